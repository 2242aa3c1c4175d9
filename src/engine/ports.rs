//! Free TCP ports for tasks (`ports = N`): the system picks free ones, and the run never hands
//! one out twice while the task holding it has not ended.

use std::collections::BTreeSet;
use std::net::{Ipv4Addr, TcpListener};

/// Ports held by the run's tasks.
#[derive(Debug, Default)]
pub(super) struct Ports {
    held: BTreeSet<u16>,
}

/// Tries per port before giving up (each try asks the system for a free port).
const TRIES: usize = 64;

impl Ports {
    /// `n` ports free right now and held by no other task. The listeners are all open while
    /// choosing, so the system cannot give the same port twice; they are closed before the
    /// agent starts, so it can bind them.
    pub fn reserve(&mut self, n: u16) -> std::io::Result<Vec<u16>> {
        let mut listeners = Vec::with_capacity(usize::from(n));
        let mut ports = Vec::with_capacity(usize::from(n));
        for _ in 0..n {
            let mut found = None;
            for _ in 0..TRIES {
                let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))?;
                let port = listener.local_addr()?.port();
                if !self.held.contains(&port) {
                    found = Some((listener, port));
                    break;
                }
                listeners.push(listener);
            }
            let (listener, port) = found.ok_or_else(|| {
                std::io::Error::other("no free TCP port that another task does not hold")
            })?;
            listeners.push(listener);
            ports.push(port);
        }
        self.held.extend(&ports);
        Ok(ports)
    }

    pub fn release(&mut self, ports: &[u16]) {
        for port in ports {
            self.held.remove(port);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ports_are_distinct_until_released() {
        let mut ports = Ports::default();
        let a = ports.reserve(3).unwrap();
        let b = ports.reserve(3).unwrap();
        let all: BTreeSet<u16> = a.iter().chain(&b).copied().collect();
        assert_eq!(all.len(), 6);
        // Free: they can be bound once reserved.
        for p in &a {
            TcpListener::bind((Ipv4Addr::LOCALHOST, *p)).unwrap();
        }
        ports.release(&a);
        assert!(a.iter().all(|p| !ports.held.contains(p)));
        assert!(ports.reserve(0).unwrap().is_empty());
    }
}
