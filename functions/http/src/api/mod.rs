//! Handlers: parse the request, call one registry service, shape the answer.

pub(crate) mod admin;
pub(crate) mod crate_info;
pub(crate) mod delete;
pub(crate) mod me;
pub(crate) mod owners;
pub(crate) mod publish;
pub(crate) mod search;
pub(crate) mod tokens;
pub(crate) mod upload;
pub(crate) mod uploads;
pub(crate) mod yank;
