//! The `provider` component (see ARCHITECTURE.md).
