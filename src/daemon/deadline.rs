//! A whole-exchange deadline on a TCP stream. A socket read timeout bounds
//! each `read()`, so a peer trickling one byte per timeout could hold a
//! reader for ever; this bounds the sum: every read gets only what is left.

use std::io::{self, Read};
use std::net::{TcpListener, TcpStream};
use std::os::fd::AsFd;
use std::time::{Duration, Instant};

/// How long an accept loop waits for a connection before it looks at its
/// stop flag again.
pub(crate) const ACCEPT_WAIT: Duration = Duration::from_millis(100);

/// Waits until `listener` has a connection to accept, or `ACCEPT_WAIT`
/// passed. An accept loop that slept 20 ms between non-blocking tries woke
/// 50 times a second per listener for nothing on an idle node; a
/// connection is now taken as soon as it arrives.
pub(crate) fn wait_acceptable(listener: &TcpListener) {
    use nix::poll::{PollFd, PollFlags, PollTimeout, poll};
    let mut fds = [PollFd::new(listener.as_fd(), PollFlags::POLLIN)];
    let ms = PollTimeout::try_from(ACCEPT_WAIT).unwrap_or(PollTimeout::NONE);
    if poll(&mut fds, ms).is_err() {
        // EINTR or worse: never spin.
        std::thread::sleep(ACCEPT_WAIT / 5);
    }
}

pub(crate) struct Deadline<'a> {
    stream: &'a TcpStream,
    within: Duration,
    until: Instant,
}

impl<'a> Deadline<'a> {
    /// Reads from `stream` that must all be done `within` from now.
    pub(crate) fn new(stream: &'a TcpStream, within: Duration) -> Deadline<'a> {
        Deadline {
            stream,
            within,
            until: crate::config::duration::deadline(Instant::now(), within),
        }
    }
}

impl Deadline<'_> {
    fn expired(&self) -> io::Error {
        io::Error::new(
            io::ErrorKind::TimedOut,
            format!("no whole frame within {:.1} s", self.within.as_secs_f64()),
        )
    }
}

impl Read for Deadline<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let left = self.until.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(self.expired());
        }
        self.stream.set_read_timeout(Some(left))?;
        let mut s = self.stream;
        match s.read(buf) {
            // The socket timeout set to what was left ran out inside this
            // read: the same deadline, said the same way (the kernel says
            // EAGAIN, which names nothing).
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                ) =>
            {
                Err(self.expired())
            }
            other => other,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;
    use std::net::TcpListener;

    /// A client sending one byte every 100 ms, for ever, is cut off at the
    /// deadline, not after a per-read timeout per byte.
    #[test]
    fn a_trickle_is_cut_at_the_deadline() {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = l.local_addr().unwrap();
        let writer = std::thread::spawn(move || {
            let mut c = TcpStream::connect(addr).unwrap();
            for _ in 0..40 {
                if c.write_all(b"x").is_err() {
                    return;
                }
                std::thread::sleep(Duration::from_millis(100));
            }
        });
        let (s, _) = l.accept().unwrap();
        let t0 = Instant::now();
        let mut r = Deadline::new(&s, Duration::from_millis(500));
        let mut got = Vec::new();
        let err = r.read_to_end(&mut got).unwrap_err();
        let took = t0.elapsed();
        assert!(
            err.to_string().contains("no whole frame within 0.5 s"),
            "{err}"
        );
        assert!(
            took < Duration::from_secs(2),
            "cut after {took:?}, {} bytes",
            got.len()
        );
        drop(s);
        writer.join().unwrap();
    }
}
