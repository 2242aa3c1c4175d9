//! A real `sshd` of the test's own (Debian's openssh-server, installed by .ci/run): its config,
//! a throwaway host key and user key in a temp dir, listening on a free port of 127.0.0.1, and
//! `ssh root@127.0.0.1` through it with that user key. Stopped (by its pid) when dropped.

use std::io::Read;
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use super::wait::poll;

const SSHD: &str = "/usr/sbin/sshd";

/// Who ssh logs in as, on which host.
pub const DESTINATION: &str = "root@127.0.0.1";

pub struct Sshd {
    child: Child,
    pub port: u16,
    dir: tempfile::TempDir,
}

fn keygen(path: &Path) {
    let out = Command::new("ssh-keygen")
        .args(["-q", "-t", "ed25519", "-N", "", "-C", "grove-test", "-f"])
        .arg(path)
        .output()
        .expect("ssh-keygen (openssh-client) must be installed: .ci/run installs openssh-server");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

impl Sshd {
    pub fn start() -> Sshd {
        assert!(
            Path::new(SSHD).exists(),
            "{SSHD} is missing: install Debian's openssh-server (.ci/run does)"
        );
        // sshd insists on its privilege separation folder, which the service would make.
        std::fs::create_dir_all("/run/sshd").unwrap();
        let dir = tempfile::tempdir().unwrap();
        keygen(&dir.path().join("host_key"));
        keygen(&dir.path().join("user_key"));
        std::fs::copy(
            dir.path().join("user_key.pub"),
            dir.path().join("authorized_keys"),
        )
        .unwrap();
        for _ in 0..5 {
            let port = free_port();
            let config = dir.path().join("sshd_config");
            let d = dir.path().display();
            std::fs::write(
                &config,
                format!(
                    "Port {port}\nListenAddress 127.0.0.1\nHostKey {d}/host_key\n\
                     AuthorizedKeysFile {d}/authorized_keys\nPidFile none\nStrictModes no\n\
                     UsePAM no\nPermitRootLogin prohibit-password\nPubkeyAuthentication yes\n\
                     PasswordAuthentication no\nKbdInteractiveAuthentication no\n\
                     AllowTcpForwarding no\nX11Forwarding no\nLogLevel ERROR\n"
                ),
            )
            .unwrap();
            let mut child = Command::new(SSHD)
                .arg("-D")
                .arg("-e")
                .arg("-f")
                .arg(&config)
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap();
            // Listening, or gone: the port was taken between finding it and sshd binding it.
            let listening = poll(|| {
                if TcpStream::connect(("127.0.0.1", port)).is_ok() {
                    return Some(true);
                }
                child.try_wait().unwrap().map(|_| false)
            });
            if listening == Some(true) {
                return Sshd { child, port, dir };
            }
            let _ = child.kill();
            let mut err = String::new();
            let _ = child.stderr.take().map(|mut e| e.read_to_string(&mut err));
            let _ = child.wait();
            eprintln!("sshd on port {port} did not start: {err}");
        }
        panic!("sshd did not start");
    }

    /// The throwaway user key root's authorized keys hold.
    pub fn user_key(&self) -> PathBuf {
        self.dir.path().join("user_key")
    }

    /// The ssh options (`-o` values) that reach this sshd with the user key and trust its
    /// throwaway host key, never asking anything.
    pub fn options(&self) -> Vec<String> {
        vec![
            format!("Port={}", self.port),
            format!("IdentityFile={}", self.user_key().display()),
            "IdentitiesOnly=yes".into(),
            "StrictHostKeyChecking=no".into(),
            "UserKnownHostsFile=/dev/null".into(),
            "BatchMode=yes".into(),
            "LogLevel=ERROR".into(),
        ]
    }

    /// `ssh root@127.0.0.1 <remote>` through this sshd, with the throwaway user key.
    pub fn ssh(&self, remote: &str) -> Command {
        let mut cmd = Command::new("ssh");
        cmd.args(["-F", "/dev/null"]);
        for option in self.options() {
            cmd.arg("-o").arg(option);
        }
        cmd.args([DESTINATION, remote]);
        cmd
    }
}

impl Drop for Sshd {
    fn drop(&mut self) {
        // The sshd this test started, by its pid.
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}
