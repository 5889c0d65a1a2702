//! Daytona fake (being written).
