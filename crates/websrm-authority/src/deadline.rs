//! A write deadline for a connection: a client that stops reading (its receive window full,
//! hundreds of pipelined answers waiting) would otherwise hold its connection, and the slot it
//! takes, for as long as it likes, since hyper's timers do not run while an answer waits to be
//! written. Here a write that makes no progress for the deadline fails the connection.

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll, ready};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::time::{Instant, Sleep};

/// `S`, whose writes (and flushes) fail with `TimedOut` after `deadline` without progress.
#[derive(Debug)]
pub(crate) struct WriteDeadline<S> {
    inner: S,
    deadline: Duration,
    /// Started when a write is first left waiting; cleared by any progress.
    timer: Option<Pin<Box<Sleep>>>,
}

impl<S> WriteDeadline<S> {
    pub(crate) fn new(inner: S, deadline: Duration) -> Self {
        Self {
            inner,
            deadline,
            timer: None,
        }
    }

    /// The inner stream's `poll` result, or `TimedOut` once it has been pending too long.
    fn guard<T>(&mut self, cx: &mut Context<'_>, poll: Poll<io::Result<T>>) -> Poll<io::Result<T>> {
        match poll {
            Poll::Ready(result) => {
                self.timer = None;
                Poll::Ready(result)
            }
            Poll::Pending => {
                let deadline = self.deadline;
                let timer = self.timer.get_or_insert_with(|| {
                    Box::pin(tokio::time::sleep_until(Instant::now() + deadline))
                });
                ready!(timer.as_mut().poll(cx));
                Poll::Ready(Err(io::Error::new(
                    io::ErrorKind::TimedOut,
                    "the client read nothing for the write deadline",
                )))
            }
        }
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for WriteDeadline<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for WriteDeadline<S> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let poll = Pin::new(&mut self.inner).poll_write(cx, buf);
        self.guard(cx, poll)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let poll = Pin::new(&mut self.inner).poll_write_vectored(cx, bufs);
        self.guard(cx, poll)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let poll = Pin::new(&mut self.inner).poll_flush(cx);
        self.guard(cx, poll)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let poll = Pin::new(&mut self.inner).poll_shutdown(cx);
        self.guard(cx, poll)
    }
}

#[cfg(test)]
mod tests {
    use tokio::io::AsyncWriteExt as _;

    use super::*;

    #[tokio::test]
    async fn a_write_left_waiting_past_the_deadline_fails_and_progress_resets_it() {
        use tokio::io::AsyncReadExt as _;
        // A pipe with 64 bytes of room.
        let (client, mut server) = tokio::io::duplex(64);
        let mut stream = WriteDeadline::new(client, Duration::from_millis(300));
        // Writes that wait less than the deadline each, because the reader reads, go through.
        let reader = tokio::spawn(async move {
            let mut buf = [0; 64];
            for _ in 0..4 {
                tokio::time::sleep(Duration::from_millis(100)).await;
                server.read_exact(&mut buf).await.unwrap();
            }
            server
        });
        stream.write_all(&[0; 64 * 5]).await.unwrap();
        let _server = reader.await.unwrap();
        // The reader stops reading: the next write that waits fails at the deadline.
        let started = Instant::now();
        let e = stream.write_all(&[0; 1]).await.unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::TimedOut);
        let waited = started.elapsed();
        assert!(
            waited >= Duration::from_millis(300) && waited < Duration::from_secs(3),
            "{waited:?}"
        );
    }
}
