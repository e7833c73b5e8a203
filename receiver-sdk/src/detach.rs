//! Running a handler so that nobody can cancel it halfway.
//!
//! A sender that hangs up mid-request makes hyper drop the request's future. The handler and
//! the commit that records its side effects must still run to the end, or a retry would find
//! the side effects done but not recorded. [`Detachable`] runs the work inline in the request's
//! task (no extra task and no cross-task wake-up per delivery) and, if it is dropped before the
//! work is done, hands what is left to a task of its own. A panic in the work is caught and
//! becomes an answer instead of tearing down the connection.

use std::future::Future;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::pin::Pin;
use std::task::{Context, Poll};

type Work<T> = Pin<Box<dyn Future<Output = T> + Send>>;

/// Work polled in place that goes on in a task of its own if this future is dropped first.
pub(crate) struct Detachable<T: Send + 'static> {
    work: Option<Work<T>>,
}

/// The work panicked; its state has been dropped.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Panicked;

impl<T: Send + 'static> Detachable<T> {
    pub(crate) fn new(work: impl Future<Output = T> + Send + 'static) -> Self {
        Self {
            work: Some(Box::pin(work)),
        }
    }
}

impl<T: Send + 'static> Future for Detachable<T> {
    type Output = Result<T, Panicked>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let Some(work) = self.work.as_mut() else {
            // Polled after it answered: a caller bug, but not one to panic over.
            return Poll::Pending;
        };
        let output = match catch_unwind(AssertUnwindSafe(|| work.as_mut().poll(cx))) {
            Ok(Poll::Pending) => return Poll::Pending,
            Ok(Poll::Ready(output)) => Ok(output),
            Err(_) => Err(Panicked),
        };
        // Done either way; after a panic, dropping the work's state releases what it held
        // (its key lock).
        self.work = None;
        Poll::Ready(output)
    }
}

impl<T: Send + 'static> Drop for Detachable<T> {
    fn drop(&mut self) {
        let Some(work) = self.work.take() else {
            return;
        };
        // Dropped mid-way (the sender hung up, or a deadline passed): finish in a task. Outside
        // a runtime (it is shutting down) there is nowhere to run it, as with any task.
        // A panic there is caught by the runtime, like any task's.
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            runtime.spawn(work);
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::Arc;
    use std::time::Duration;

    use super::*;

    #[tokio::test]
    async fn work_polled_to_the_end_gives_its_output() {
        assert_eq!(Detachable::new(async { 7 }).await, Ok(7));
    }

    #[tokio::test]
    async fn a_panic_becomes_an_error() {
        let work = async {
            tokio::task::yield_now().await;
            panic!("handler bug");
        };
        assert_eq!(Detachable::<()>::new(work).await, Err(Panicked));
    }

    #[tokio::test]
    async fn work_dropped_halfway_finishes_in_a_task_of_its_own() {
        let done = Arc::new(AtomicBool::new(false));
        let (release, released) = tokio::sync::oneshot::channel::<()>();
        let work = {
            let done = Arc::clone(&done);
            async move {
                let _ = released.await;
                done.store(true, Ordering::SeqCst);
            }
        };
        let mut detachable = Detachable::new(work);
        // Poll once so it is mid-way, then drop it as hyper drops a hung-up request's future.
        assert!(
            tokio::time::timeout(Duration::from_millis(10), &mut detachable)
                .await
                .is_err()
        );
        drop(detachable);
        release.send(()).unwrap();
        for _ in 0..100 {
            if done.load(Ordering::SeqCst) {
                return;
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        panic!("the dropped work never finished");
    }
}
