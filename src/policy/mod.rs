//! Which share set (and delete mode) an unmodified program gets for an open.
//!
//! Until policy files exist (a later issue), a mount has one built-in [`Profile`].

pub mod profile;

pub use profile::Profile;
