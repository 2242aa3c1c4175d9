//! The first frame of each side: who it is and which protocol it speaks. The server writes its
//! own (or a refusal) as soon as a client connects, then reads the client's; the client writes
//! its own, then reads the server's. Each side checks the versions itself, so both can say what
//! went wrong in their own words, naming both versions.

use serde::{Deserialize, Serialize};
use tokio::io::{AsyncRead, AsyncWrite};

use super::frame::{self, FrameError};

/// The protocol this grove speaks. Any change to a message that an older grove would read
/// differently changes it.
pub const PROTOCOL: u32 = 3;

/// What a peer is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    Server,
    Dashboard,
    Headless,
    /// `grove proxy`: bridges a remote dashboard's stdio (over ssh) to the socket.
    Proxy,
}

impl std::fmt::Display for Role {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Role::Server => "server",
            Role::Dashboard => "dashboard",
            Role::Headless => "headless client",
            Role::Proxy => "proxy",
        })
    }
}

/// One side's handshake.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Hello {
    pub protocol: u32,
    /// grove's version, for the messages: `0.1.0`.
    pub program: String,
    pub role: Role,
}

impl Hello {
    /// This grove's handshake in `role`.
    pub fn ours(role: Role) -> Hello {
        Hello {
            protocol: PROTOCOL,
            program: env!("CARGO_PKG_VERSION").to_string(),
            role,
        }
    }
}

/// The server's first frame.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "handshake", rename_all = "lowercase")]
pub enum Greeting {
    Welcome(Hello),
    /// The server will not serve this client (another user, or no server to reach); the
    /// connection closes after it.
    Refused {
        reason: String,
    },
}

#[derive(Debug, thiserror::Error)]
pub enum HandshakeError {
    #[error("the grove server speaks protocol {theirs} (grove {their_program}) but this grove speaks protocol {ours} (grove {our_program}): run the same version of grove on both ends")]
    ServerMismatch {
        ours: u32,
        our_program: String,
        theirs: u32,
        their_program: String,
    },
    #[error("a grove {role} (grove {their_program}) speaks protocol {theirs} but this server speaks protocol {ours} (grove {our_program}): refused")]
    ClientMismatch {
        role: Role,
        ours: u32,
        our_program: String,
        theirs: u32,
        their_program: String,
    },
    #[error("the grove server refused the connection: {reason}")]
    Refused { reason: String },
    #[error("the peer is not a grove {expected}: its first frame is from a {got}")]
    WrongRole { expected: &'static str, got: Role },
    #[error("the connection closed before the handshake")]
    Closed,
    #[error(transparent)]
    Frame(#[from] FrameError),
}

/// The client's side: sends `ours`, returns the server's handshake when it speaks the same
/// protocol.
pub async fn client(
    stream: &mut (impl AsyncRead + AsyncWrite + Unpin),
    ours: &Hello,
) -> Result<Hello, HandshakeError> {
    frame::write_async(stream, ours).await?;
    let greeting = frame::read_async(stream)
        .await?
        .ok_or(HandshakeError::Closed)?;
    check_greeting(ours, greeting)
}

/// `client`, blocking.
pub fn client_blocking(
    stream: &mut (impl std::io::Read + std::io::Write),
    ours: &Hello,
) -> Result<Hello, HandshakeError> {
    frame::write(stream, ours)?;
    let greeting = frame::read(stream)?.ok_or(HandshakeError::Closed)?;
    check_greeting(ours, greeting)
}

/// What a client makes of the server's first frame.
pub fn check_greeting(ours: &Hello, greeting: Greeting) -> Result<Hello, HandshakeError> {
    let theirs = match greeting {
        Greeting::Welcome(theirs) => theirs,
        Greeting::Refused { reason } => return Err(HandshakeError::Refused { reason }),
    };
    if theirs.role != Role::Server {
        return Err(HandshakeError::WrongRole {
            expected: "server",
            got: theirs.role,
        });
    }
    if theirs.protocol != ours.protocol {
        return Err(HandshakeError::ServerMismatch {
            ours: ours.protocol,
            our_program: ours.program.clone(),
            theirs: theirs.protocol,
            their_program: theirs.program,
        });
    }
    Ok(theirs)
}

/// The server's side, once the peer is allowed: sends `ours` (so a client of another protocol
/// can name this one), then returns the client's handshake when it speaks the same protocol.
pub async fn server(
    stream: &mut (impl AsyncRead + AsyncWrite + Unpin),
    ours: &Hello,
) -> Result<Hello, HandshakeError> {
    frame::write_async(stream, &Greeting::Welcome(ours.clone())).await?;
    let theirs: Hello = frame::read_async(stream)
        .await?
        .ok_or(HandshakeError::Closed)?;
    if theirs.role == Role::Server {
        return Err(HandshakeError::WrongRole {
            expected: "client",
            got: theirs.role,
        });
    }
    if theirs.protocol != ours.protocol {
        return Err(HandshakeError::ClientMismatch {
            role: theirs.role,
            ours: ours.protocol,
            our_program: ours.program.clone(),
            theirs: theirs.protocol,
            their_program: theirs.program,
        });
    }
    Ok(theirs)
}

/// Refuses a client: the reason as the server's first frame, then the connection closes.
pub async fn refuse(
    stream: &mut (impl AsyncWrite + Unpin),
    reason: &str,
) -> Result<(), HandshakeError> {
    let refusal = Greeting::Refused {
        reason: reason.to_string(),
    };
    frame::write_async(stream, &refusal).await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn older(role: Role) -> Hello {
        Hello {
            protocol: PROTOCOL + 1,
            program: "9.9.9".into(),
            role,
        }
    }

    #[tokio::test]
    async fn same_protocol_on_both_sides_shakes_hands() {
        let (mut a, mut b) = tokio::net::UnixStream::pair().unwrap();
        let server =
            tokio::spawn(async move { super::server(&mut b, &Hello::ours(Role::Server)).await });
        let theirs = client(&mut a, &Hello::ours(Role::Dashboard)).await.unwrap();
        assert_eq!(theirs, Hello::ours(Role::Server));
        assert_eq!(server.await.unwrap().unwrap(), Hello::ours(Role::Dashboard));
    }

    #[tokio::test]
    async fn a_mismatch_names_both_versions_on_each_side() {
        let (mut a, mut b) = tokio::net::UnixStream::pair().unwrap();
        let server = tokio::spawn(async move { super::server(&mut b, &older(Role::Server)).await });
        let client_err = client(&mut a, &Hello::ours(Role::Headless))
            .await
            .unwrap_err();
        let server_err = server.await.unwrap().unwrap_err();
        let ours = env!("CARGO_PKG_VERSION");
        assert_eq!(
            client_err.to_string(),
            format!(
                "the grove server speaks protocol {} (grove 9.9.9) but this grove speaks protocol {PROTOCOL} (grove {ours}): run the same version of grove on both ends",
                PROTOCOL + 1
            )
        );
        assert_eq!(
            server_err.to_string(),
            format!(
                "a grove headless client (grove {ours}) speaks protocol {PROTOCOL} but this server speaks protocol {} (grove 9.9.9): refused",
                PROTOCOL + 1
            )
        );
    }

    #[test]
    fn a_refusal_is_the_clients_error_with_the_reason() {
        let (mut a, mut b) = std::os::unix::net::UnixStream::pair().unwrap();
        let refusal = Greeting::Refused {
            reason: "you are not me".into(),
        };
        frame::write(&mut b, &refusal).unwrap();
        let err = client_blocking(&mut a, &Hello::ours(Role::Dashboard)).unwrap_err();
        assert_eq!(
            err.to_string(),
            "the grove server refused the connection: you are not me"
        );
        // What the client sent first was its handshake.
        let sent: Hello = frame::read(&mut b).unwrap().unwrap();
        assert_eq!(sent, Hello::ours(Role::Dashboard));
    }

    #[test]
    fn a_server_that_closes_at_once_or_is_not_a_server_is_an_error() {
        let (mut a, b) = std::os::unix::net::UnixStream::pair().unwrap();
        drop(b);
        let err = client_blocking(&mut a, &Hello::ours(Role::Dashboard)).unwrap_err();
        // Writing may fail first (the peer is gone) or reading finds the end.
        assert!(
            matches!(err, HandshakeError::Closed | HandshakeError::Frame(_)),
            "{err}"
        );
        let greeting = Greeting::Welcome(Hello::ours(Role::Proxy));
        let err = check_greeting(&Hello::ours(Role::Dashboard), greeting).unwrap_err();
        assert_eq!(
            err.to_string(),
            "the peer is not a grove server: its first frame is from a proxy"
        );
    }

    #[test]
    fn the_wire_form_is_tagged_json() {
        let json = serde_json::to_string(&Greeting::Welcome(Hello {
            protocol: 1,
            program: "0.1.0".into(),
            role: Role::Server,
        }))
        .unwrap();
        assert_eq!(
            json,
            r#"{"handshake":"welcome","protocol":1,"program":"0.1.0","role":"server"}"#
        );
    }
}
