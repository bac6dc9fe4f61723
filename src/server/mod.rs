//! The `server` component (see ARCHITECTURE.md).
