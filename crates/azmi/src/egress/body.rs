//! The response body handed to the guest: it enforces the between-bytes
//! deadline (the stock sender's job, which a custom sender must redo) and a
//! size cap, failing rather than truncating. When it has been read to the
//! end, its connection goes back to the pool; until then it holds the
//! tenant's request slot.

use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, ready};
use std::time::Duration;

use bytes::Bytes;
use http_body::{Body, Frame, SizeHint};
use hyper::client::conn::http1::SendRequest;
use tokio::sync::OwnedSemaphorePermit;
use wasmtime_wasi_http::{Error, WasiBody};

use super::EgressLog;
use super::pool::ConnectionPool;
use crate::policy::Destination;

/// Where a fully read connection goes back to.
pub(crate) struct Release {
    pub(crate) pool: Arc<ConnectionPool>,
    pub(crate) destination: Destination,
    pub(crate) sender: SendRequest<WasiBody>,
}

pub(crate) struct LimitedBody {
    incoming: hyper::body::Incoming,
    /// Where a refused body is recorded, and what it came from.
    log: EgressLog,
    shown: String,
    idle: Pin<Box<tokio::time::Sleep>>,
    between_bytes: Duration,
    remaining: u64,
    limit: u64,
    release: Option<Release>,
    _permit: Option<OwnedSemaphorePermit>,
}

impl LimitedBody {
    pub(crate) fn new(
        incoming: hyper::body::Incoming,
        between_bytes: Duration,
        limit: u64,
        release: Release,
        permit: Option<OwnedSemaphorePermit>,
        log: EgressLog,
    ) -> LimitedBody {
        LimitedBody {
            incoming,
            log,
            shown: release.destination.to_string(),
            idle: Box::pin(tokio::time::sleep(between_bytes)),
            between_bytes,
            remaining: limit,
            limit,
            release: Some(release),
            _permit: permit,
        }
    }
}

impl Body for LimitedBody {
    type Data = Bytes;
    type Error = Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Error>>> {
        let this = &mut *self;
        match Pin::new(&mut this.incoming).poll_frame(cx) {
            Poll::Ready(None) => {
                // Read to the end: the connection can serve another request.
                if let Some(Release {
                    pool,
                    destination,
                    sender,
                }) = this.release.take()
                {
                    pool.put(destination, sender);
                }
                Poll::Ready(None)
            }
            // A failed body never gives its connection back, even if polled
            // again.
            Poll::Ready(Some(Err(e))) if e.is_timeout() => {
                this.release = None;
                Poll::Ready(Some(Err(Error::ConnectionReadTimeout)))
            }
            Poll::Ready(Some(Err(e))) => {
                this.release = None;
                tracing::debug!("response body failed: {e}");
                Poll::Ready(Some(Err(Error::HttpResponseIncomplete)))
            }
            Poll::Ready(Some(Ok(frame))) => {
                if let Some(data) = frame.data_ref() {
                    let len = data.len() as u64;
                    if len > this.remaining {
                        this.release = None;
                        this.log.record_refusal(format!(
                            "{} sent a response body larger than {} bytes; refused without reading the rest",
                            this.shown, this.limit
                        ));
                        return Poll::Ready(Some(Err(Error::HttpResponseBodySize(Some(
                            this.limit,
                        )))));
                    }
                    this.remaining -= len;
                }
                let deadline = crate::limits::deadline_after(this.between_bytes);
                this.idle.as_mut().reset(deadline);
                Poll::Ready(Some(Ok(frame)))
            }
            Poll::Pending => {
                ready!(this.idle.as_mut().poll(cx));
                this.release = None;
                Poll::Ready(Some(Err(Error::ConnectionReadTimeout)))
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        self.incoming.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.incoming.size_hint()
    }
}
