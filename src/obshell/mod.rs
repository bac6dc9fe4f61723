//! The `obshell` component (see ARCHITECTURE.md).
