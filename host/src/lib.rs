//! wasio host library.
