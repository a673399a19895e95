//! The engine's view of a connection. It is async, so that one engine serves
//! both the blocking drivers behind [`Database`] (whose futures are ready at
//! once and are driven by [`now`]) and tokio-postgres, whose futures really
//! wait. The engine is generic over it, so a tokio run is as `Send` as the
//! driver's futures are.

use std::any::Any;
use std::future::Future;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::pin::Pin;
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use crate::{Database, DbError, Dialect};

/// Rows as text, as [`Database::query_text`] returns them.
pub(crate) type Rows = Vec<Vec<Option<String>>>;

/// What the engine needs from a connection: [`Database`], awaited.
pub(crate) trait Conn {
    fn dialect(&self) -> Dialect;
    fn execute_batch(&mut self, sql: &str) -> impl Future<Output = Result<(), DbError>>;
    fn query_text(&mut self, sql: &str) -> impl Future<Output = Result<Rows, DbError>>;
    fn try_lock(&mut self, key: i64) -> impl Future<Output = Result<bool, DbError>>;
    fn lock(&mut self, key: i64, timeout: Option<Duration>) -> impl Future<Output = Result<bool, DbError>>;
    fn unlock(&mut self, key: i64) -> impl Future<Output = Result<(), DbError>>;
    fn lock_holder(&mut self, key: i64) -> impl Future<Output = Option<String>>;
    fn user(&mut self) -> impl Future<Output = String>;
    fn table_columns(
        &mut self,
        schema: Option<&str>,
        table: &str,
    ) -> impl Future<Output = Result<Option<Vec<(String, String)>>, DbError>>;
}

/// A blocking [`Database`] seen as a [`Conn`]: every future is ready when
/// first polled.
pub(crate) struct Blocking<'d, D: ?Sized>(pub &'d mut D);

impl<D: Database + ?Sized> Conn for Blocking<'_, D> {
    fn dialect(&self) -> Dialect {
        self.0.dialect()
    }
    async fn execute_batch(&mut self, sql: &str) -> Result<(), DbError> {
        self.0.execute_batch(sql)
    }
    async fn query_text(&mut self, sql: &str) -> Result<Rows, DbError> {
        self.0.query_text(sql)
    }
    async fn try_lock(&mut self, key: i64) -> Result<bool, DbError> {
        self.0.try_lock(key)
    }
    async fn lock(&mut self, key: i64, timeout: Option<Duration>) -> Result<bool, DbError> {
        self.0.lock(key, timeout)
    }
    async fn unlock(&mut self, key: i64) -> Result<(), DbError> {
        self.0.unlock(key)
    }
    async fn lock_holder(&mut self, key: i64) -> Option<String> {
        self.0.lock_holder(key)
    }
    async fn user(&mut self) -> String {
        self.0.user()
    }
    async fn table_columns(
        &mut self,
        schema: Option<&str>,
        table: &str,
    ) -> Result<Option<Vec<(String, String)>>, DbError> {
        self.0.table_columns(schema, table)
    }
}

/// The output of a future that never waits: the engine over a [`Blocking`]
/// connection, whose every await is ready at once.
pub(crate) fn now<F: Future>(future: F) -> F::Output {
    let mut future = std::pin::pin!(future);
    match future.as_mut().poll(&mut Context::from_waker(Waker::noop())) {
        Poll::Ready(output) => output,
        Poll::Pending => unreachable!("a blocking database's futures are ready when first polled"),
    }
}

/// A future's output, or the panic it raised while being polled: lets a run
/// roll back and release the migration lock before the panic goes on.
pub(crate) async fn caught<F: Future>(future: F) -> Result<F::Output, Box<dyn Any + Send>> {
    struct CatchUnwind<F>(Pin<Box<F>>);
    impl<F: Future> Future for CatchUnwind<F> {
        type Output = Result<F::Output, Box<dyn Any + Send>>;
        fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
            match catch_unwind(AssertUnwindSafe(|| self.0.as_mut().poll(cx))) {
                Ok(Poll::Pending) => Poll::Pending,
                Ok(Poll::Ready(output)) => Poll::Ready(Ok(output)),
                Err(panic) => Poll::Ready(Err(panic)),
            }
        }
    }
    CatchUnwind(Box::pin(future)).await
}
