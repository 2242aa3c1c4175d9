//! `grove proxy` (hidden): what `grove attach --ssh` runs on the remote host. Bridges stdin and
//! stdout to the repository's server socket (see `server/proxy.rs`).

use std::path::Path;

use crate::server::proxy;
use crate::server::socket::SocketPlace;

/// Bridges this process's stdio to the server of the repository containing `repo` (or the
/// current directory) until the server closes the connection.
pub fn proxy(repo: Option<&Path>) -> anyhow::Result<i32> {
    let root = super::repo::repo_root(repo)?;
    let place = SocketPlace::for_repo(&root)?;
    proxy::bridge(&place, std::io::stdin(), std::io::stdout().lock())?;
    Ok(0)
}
