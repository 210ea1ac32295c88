//! rivertwin: a digital twin of a river basin. The solver lives in the `hydro` crate;
//! this crate is the application around it.

pub mod demo;
