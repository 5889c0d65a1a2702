//! Placeholder: remote sandboxes are being written.
