//! Frames on the server's socket: a u32 big-endian length, then that many bytes of payload: JSON,
//! or a binary form a message type gives itself (pane output: `messages::Stream::encode`). One
//! reader and one writer of each kind, blocking (std) and async (tokio), with the same checks.

use serde::de::DeserializeOwned;
use serde::Serialize;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

/// The largest payload a frame may carry. A snapshot of a full pane (2000 lines of history with
/// colors) is a few MB; a bigger length is a broken or hostile peer, refused before anything is
/// allocated for it.
pub const MAX_FRAME: u32 = 32 * 1024 * 1024;

const HEADER: usize = 4;

#[derive(Debug, thiserror::Error)]
pub enum FrameError {
    #[error("a frame of {len} bytes is larger than the {max} bytes grove allows: the peer is not a grove of this protocol, or is broken")]
    TooLarge { len: u64, max: u32 },
    #[error("the connection ended in the middle of a frame ({got} of {expected} bytes)")]
    Truncated { expected: usize, got: usize },
    #[error("a frame is not a valid message: {0}")]
    Json(#[from] serde_json::Error),
    #[error("a frame is not a valid message: {0}")]
    Malformed(String),
    #[error("the connection failed: {0}")]
    Io(#[from] std::io::Error),
}

/// The bytes of one frame holding `message`.
pub fn encode<T: Serialize>(message: &T) -> Result<Vec<u8>, FrameError> {
    encode_with(|bytes| Ok(serde_json::to_writer(bytes, message)?))
}

/// The bytes of one frame whose payload `payload` appends to the buffer it is given; refused
/// (nothing returned) when it is over the limit.
pub fn encode_with(
    payload: impl FnOnce(&mut Vec<u8>) -> Result<(), FrameError>,
) -> Result<Vec<u8>, FrameError> {
    let mut bytes = vec![0; HEADER];
    payload(&mut bytes)?;
    let len = bytes.len() - HEADER;
    let max = MAX_FRAME;
    let len = u32::try_from(len)
        .ok()
        .filter(|&len| len <= max)
        .ok_or(FrameError::TooLarge {
            len: len as u64,
            max,
        })?;
    bytes[..HEADER].copy_from_slice(&len.to_be_bytes());
    Ok(bytes)
}

/// The payload's length from a frame's header, refused when over the limit.
fn payload_len(header: [u8; HEADER]) -> Result<usize, FrameError> {
    let len = u32::from_be_bytes(header);
    if len > MAX_FRAME {
        return Err(FrameError::TooLarge {
            len: len.into(),
            max: MAX_FRAME,
        });
    }
    Ok(len as usize)
}

fn decode<T: DeserializeOwned>(payload: &[u8]) -> Result<T, FrameError> {
    Ok(serde_json::from_slice(payload)?)
}

/// Writes one frame (all of it, however many writes that takes) and flushes.
pub fn write<T: Serialize>(to: &mut impl std::io::Write, message: &T) -> Result<(), FrameError> {
    to.write_all(&encode(message)?)?;
    to.flush()?;
    Ok(())
}

/// Reads one frame. `None` when the connection ended cleanly between frames; an end inside a
/// frame (header or payload) is `Truncated`.
pub fn read<T: DeserializeOwned>(from: &mut impl std::io::Read) -> Result<Option<T>, FrameError> {
    read_payload(from)?
        .map(|payload| decode(&payload))
        .transpose()
}

/// Reads one frame's payload, undecoded; `None` and errors as `read`.
pub fn read_payload(from: &mut impl std::io::Read) -> Result<Option<Vec<u8>>, FrameError> {
    let mut header = [0; HEADER];
    if !fill(from, &mut header, 0, HEADER)? {
        return Ok(None);
    }
    let len = payload_len(header)?;
    let mut payload = vec![0; len];
    fill(from, &mut payload, HEADER, HEADER + len)?;
    Ok(Some(payload))
}

/// Fills `buf`, the part of a frame after its first `before` bytes, reading as often as needed.
/// False when the connection ended before the frame's first byte; an end after it is
/// `Truncated` (`whole` is how long the frame is known to be so far, for the message).
fn fill(
    from: &mut impl std::io::Read,
    buf: &mut [u8],
    before: usize,
    whole: usize,
) -> Result<bool, FrameError> {
    let mut got = 0;
    while got < buf.len() {
        match from.read(&mut buf[got..]) {
            Ok(0) => return ended(before + got, whole),
            Ok(n) => got += n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e.into()),
        }
    }
    Ok(true)
}

/// What an end of the connection after `got` bytes of a frame means.
fn ended(got: usize, whole: usize) -> Result<bool, FrameError> {
    if got == 0 {
        Ok(false)
    } else {
        Err(FrameError::Truncated {
            expected: whole,
            got,
        })
    }
}

/// `write`, for async streams.
pub async fn write_async<T: Serialize>(
    to: &mut (impl AsyncWrite + Unpin),
    message: &T,
) -> Result<(), FrameError> {
    to.write_all(&encode(message)?).await?;
    to.flush().await?;
    Ok(())
}

/// `read`, for async streams.
pub async fn read_async<T: DeserializeOwned>(
    from: &mut (impl AsyncRead + Unpin),
) -> Result<Option<T>, FrameError> {
    let mut header = [0; HEADER];
    if !fill_async(from, &mut header, 0, HEADER).await? {
        return Ok(None);
    }
    let len = payload_len(header)?;
    let mut payload = vec![0; len];
    fill_async(from, &mut payload, HEADER, HEADER + len).await?;
    decode(&payload).map(Some)
}

async fn fill_async(
    from: &mut (impl AsyncRead + Unpin),
    buf: &mut [u8],
    before: usize,
    whole: usize,
) -> Result<bool, FrameError> {
    let mut got = 0;
    while got < buf.len() {
        match from.read(&mut buf[got..]).await {
            Ok(0) => return ended(before + got, whole),
            Ok(n) => got += n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e.into()),
        }
    }
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;

    #[derive(Debug, PartialEq, Serialize, Deserialize)]
    struct Message {
        text: String,
        n: u64,
    }

    fn message(text: &str) -> Message {
        Message {
            text: text.into(),
            n: 7,
        }
    }

    /// A reader that hands out at most `step` bytes per read, and is interrupted now and then.
    struct Trickle<'a> {
        bytes: &'a [u8],
        step: usize,
        calls: usize,
    }

    impl std::io::Read for Trickle<'_> {
        fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
            self.calls += 1;
            if self.calls.is_multiple_of(3) {
                return Err(std::io::ErrorKind::Interrupted.into());
            }
            let n = self.step.min(buf.len()).min(self.bytes.len());
            buf[..n].copy_from_slice(&self.bytes[..n]);
            self.bytes = &self.bytes[n..];
            Ok(n)
        }
    }

    #[test]
    fn frames_round_trip_in_order_through_partial_reads() {
        let mut bytes = Vec::new();
        write(&mut bytes, &message("first")).unwrap();
        write(&mut bytes, &message("é中🙂 second")).unwrap();
        for step in [1, 2, 3, 5, 4096] {
            let mut from = Trickle {
                bytes: &bytes,
                step,
                calls: 0,
            };
            assert_eq!(read(&mut from).unwrap(), Some(message("first")));
            assert_eq!(read(&mut from).unwrap(), Some(message("é中🙂 second")));
            assert_eq!(read::<Message>(&mut from).unwrap(), None);
        }
    }

    #[test]
    fn the_header_is_the_big_endian_payload_length() {
        let bytes = encode(&"abc").unwrap();
        assert_eq!(bytes, b"\0\0\0\x05\"abc\"");
    }

    #[test]
    fn a_huge_length_is_refused_before_reading_or_allocating() {
        let mut bytes = u32::MAX.to_be_bytes().to_vec();
        bytes.extend_from_slice(b"{}");
        let err = read::<Message>(&mut bytes.as_slice()).unwrap_err();
        assert!(
            matches!(err, FrameError::TooLarge { len, .. } if len == u64::from(u32::MAX)),
            "{err}"
        );
        assert!(err.to_string().contains("larger than"), "{err}");
        let just_over = (MAX_FRAME + 1).to_be_bytes();
        let err = read::<Message>(&mut just_over.as_slice()).unwrap_err();
        assert!(matches!(err, FrameError::TooLarge { .. }), "{err}");
    }

    #[test]
    fn a_message_over_the_limit_is_not_written() {
        let big = "x".repeat(MAX_FRAME as usize);
        let mut out = Vec::new();
        let err = write(&mut out, &big).unwrap_err();
        assert!(matches!(err, FrameError::TooLarge { .. }), "{err}");
        assert!(out.is_empty(), "nothing half-written");
    }

    #[test]
    fn an_end_inside_a_frame_is_an_error_and_between_frames_is_not() {
        let whole = encode(&message("cut")).unwrap();
        assert_eq!(read::<Message>(&mut &[][..]).unwrap(), None);
        for cut in 1..whole.len() {
            let err = read::<Message>(&mut &whole[..cut]).unwrap_err();
            match err {
                FrameError::Truncated { expected, got } => {
                    assert_eq!(got, cut, "cut at {cut}");
                    let expected_now = if cut < 4 { 4 } else { whole.len() };
                    assert_eq!(expected, expected_now, "cut at {cut}");
                }
                other => panic!("cut at {cut}: {other}"),
            }
        }
    }

    #[test]
    fn a_payload_that_is_not_the_message_is_a_clear_error() {
        let mut bytes = 3u32.to_be_bytes().to_vec();
        bytes.extend_from_slice(b"{x}");
        let err = read::<Message>(&mut bytes.as_slice()).unwrap_err();
        assert!(matches!(err, FrameError::Json(_)), "{err}");
        let mut bytes = 2u32.to_be_bytes().to_vec();
        bytes.extend_from_slice(b"{}");
        let err = read::<Message>(&mut bytes.as_slice()).unwrap_err();
        assert!(err.to_string().contains("not a valid message"), "{err}");
    }

    #[tokio::test]
    async fn async_frames_cross_a_real_socket_in_small_pieces() {
        let (mut a, b) = tokio::net::UnixStream::pair().unwrap();
        let writer = tokio::spawn(async move {
            for i in 0..50 {
                write_async(&mut a, &message(&"y".repeat(i * 997)))
                    .await
                    .unwrap();
            }
            // A frame cut short: its header promises more than follows.
            let whole = encode(&message("cut")).unwrap();
            a.write_all(&whole[..whole.len() - 2]).await.unwrap();
        });
        // A tiny read buffer: every frame arrives in many reads.
        let mut b = tokio::io::BufReader::with_capacity(7, b);
        for i in 0..50 {
            let got: Message = read_async(&mut b).await.unwrap().unwrap();
            assert_eq!(got, message(&"y".repeat(i * 997)));
        }
        writer.await.unwrap();
        let err = read_async::<Message>(&mut b).await.unwrap_err();
        assert!(matches!(err, FrameError::Truncated { .. }), "{err}");
    }

    #[tokio::test]
    async fn async_reads_refuse_a_huge_length() {
        let (mut a, mut b) = tokio::net::UnixStream::pair().unwrap();
        a.write_all(&(MAX_FRAME + 1).to_be_bytes()).await.unwrap();
        let err = read_async::<Message>(&mut b).await.unwrap_err();
        assert!(matches!(err, FrameError::TooLarge { .. }), "{err}");
        drop(a);
        let (a, mut b) = tokio::net::UnixStream::pair().unwrap();
        drop(a);
        assert!(read_async::<Message>(&mut b).await.unwrap().is_none());
    }
}
