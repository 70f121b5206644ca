//! Who may connect and what they may do: roles kept in the replicated
//! state ([`roles`]), their table privileges ([`privilege`]), what a
//! statement needs ([`access`]), role management statements
//! ([`statements`]) and SCRAM-SHA-256 password verification ([`scram`]).
//!
//! Every node reads the roles from its own copy of the state, so a change
//! committed through Raft takes effect on each node as it applies it, at
//! the next statement of an open session.

mod access;
mod privilege;
mod roles;
pub mod scram;
mod statements;

pub use access::Access;
pub use privilege::Privileges;
pub use roles::{Role, Roles, BOOTSTRAP_SUPERUSER};
pub use statements::{RoleOptions, RoleStatement};
