//! Placeholder: fake provider servers are being written.
