//! wasio host library.

pub mod capabilities;
pub mod capture;
pub mod conv;
pub mod ctx;
pub mod host_impl;
