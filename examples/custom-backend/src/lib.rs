//! Placeholder: this example is being written.
