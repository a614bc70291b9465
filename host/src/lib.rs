//! wasio host library.

pub mod capabilities;
pub mod capture;
pub mod ctx;
