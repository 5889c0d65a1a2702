//! Runloop fake (being written).
