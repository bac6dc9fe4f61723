//! The `resources` component (see ARCHITECTURE.md).
