//! Connection threads. Every SQLite connection lives on a thread of its own; async code hands
//! it a job (a closure over the connection) and awaits the answer, so a store call's statements
//! run together there: one hand-off per call, not one or more per statement.
//!
//! - [`Readers`]: a pool of read-only connections sharing one queue (any free reader takes the
//!   next job). WAL lets them read beside the writer.
//! - [`Writer`]: the one read-write connection, with group commit (see [`WriteTx`]).

use crate::conn::{self, map_err};
use crossbeam_channel::{Receiver, RecvTimeoutError, Sender};
use roster_core::store::{StoreError, StoreResult};
use roster_store_sql::{Stale, TokenCache};
use rusqlite::Connection;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};
use tokio::sync::{OwnedMutexGuard, oneshot};

/// A call to run on a connection thread; given an error instead of the connection when its
/// write transaction could not begin.
type Job = Box<dyn FnOnce(StoreResult<&mut Connection>) + Send>;

fn gone() -> StoreError {
    StoreError::Other("the SQLite connection thread stopped".into())
}

/// Run `job` with the connection and send its answer; a panic in it is an error, and the
/// thread (and its connection) carries on.
fn answer<T: Send + 'static>(
    f: impl FnOnce(&mut Connection) -> StoreResult<T> + Send + 'static,
    reply: oneshot::Sender<StoreResult<T>>,
) -> Job {
    Box::new(move |c: StoreResult<&mut Connection>| {
        let r = match c {
            Ok(c) => std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| f(c)))
                .unwrap_or_else(|_| Err(StoreError::Other("a store call panicked".into()))),
            Err(e) => Err(e),
        };
        let _ = reply.send(r);
    })
}

/// Read-only connections, each on its own thread.
#[derive(Clone)]
pub struct Readers {
    jobs: Sender<Job>,
}

impl Readers {
    pub fn start(path: &Path, n: usize) -> StoreResult<Readers> {
        let (jobs, rx) = crossbeam_channel::unbounded::<Job>();
        for i in 0..n {
            let mut c = conn::open(path, true)?;
            let rx = rx.clone();
            std::thread::Builder::new()
                .name(format!("sqlite-reader-{i}"))
                .spawn(move || {
                    for job in rx.iter() {
                        job(Ok(&mut c));
                    }
                })
                .map_err(|e| StoreError::database("starting a reader thread", e))?;
        }
        Ok(Readers { jobs })
    }

    /// Run `f` on the next free reader.
    pub async fn run<T: Send + 'static>(
        &self,
        f: impl FnOnce(&mut Connection) -> StoreResult<T> + Send + 'static,
    ) -> StoreResult<T> {
        let (tx, rx) = oneshot::channel();
        self.jobs.send(answer(f, tx)).map_err(|_| gone())?;
        rx.await.map_err(|_| gone())?
    }
}

/// What the writer thread is asked to do.
enum Step {
    /// Start a logical transaction: `SAVEPOINT`, inside the open batch (`BEGIN IMMEDIATE` first
    /// when there is none). Not answered: the steps that follow it on the channel are (a failed
    /// begin fails them), which saves a round trip while the writer's turn is held.
    Begin,
    Run(Job),
    /// `RELEASE` the logical transaction; `ack` answers once the batch holding it is durable.
    /// `flush`: nobody else is waiting to write, so commit the batch now.
    Commit {
        ack: oneshot::Sender<StoreResult<()>>,
        flush: bool,
    },
    /// Undo the logical transaction (`ROLLBACK TO`), keeping the rest of the batch.
    Rollback {
        flush: bool,
    },
}

/// The most logical transactions one fsync covers, and how long a batch waits for the next
/// writer to start before it commits anyway.
const MAX_BATCH: usize = 256;
const IDLE_FLUSH: Duration = Duration::from_millis(2);

/// The writer thread's state.
struct Batcher {
    conn: Connection,
    /// A `BEGIN IMMEDIATE` batch is open.
    open: bool,
    /// A logical transaction (`SAVEPOINT w`) is open.
    inside: bool,
    /// Why the current logical transaction could not begin (its steps are answered this).
    broken: Option<String>,
    /// Released logical transactions waiting for the batch's commit.
    acks: Vec<oneshot::Sender<StoreResult<()>>>,
    started: Instant,
}

impl Batcher {
    fn exec(&mut self, sql: &str) -> StoreResult<()> {
        self.conn.execute_batch(sql).map_err(map_err)
    }

    fn begin(&mut self) -> StoreResult<()> {
        if !self.open {
            self.exec("BEGIN IMMEDIATE")?;
            self.open = true;
            self.started = Instant::now();
        }
        self.exec("SAVEPOINT w")?;
        self.inside = true;
        Ok(())
    }

    /// After an error SQLite may have rolled the whole batch back by itself (disk full, I/O
    /// error): then every released transaction in it is lost, and is told so.
    fn batch_lost(&mut self) -> bool {
        if self.open && self.conn.is_autocommit() {
            self.open = false;
            self.inside = false;
            for ack in self.acks.drain(..) {
                let _ = ack.send(Err(StoreError::Other(
                    "the write was rolled back by SQLite (an I/O error or a full disk)".into(),
                )));
            }
            return true;
        }
        false
    }

    fn commit(&mut self, ack: oneshot::Sender<StoreResult<()>>, flush: bool) {
        if self.batch_lost() || !self.inside {
            let why = match self.broken.take() {
                Some(e) => format!("the transaction could not begin: {e}"),
                None => "the transaction was rolled back before its commit".into(),
            };
            let _ = ack.send(Err(StoreError::Other(why)));
            return;
        }
        self.inside = false;
        match self.exec("RELEASE w") {
            Ok(()) => self.acks.push(ack),
            Err(e) => {
                let _ = ack.send(Err(e));
            }
        }
        if flush
            || self.acks.len() >= MAX_BATCH
            || self.started.elapsed() > Duration::from_millis(50)
        {
            self.flush();
        }
    }

    fn rollback(&mut self, flush: bool) {
        self.broken = None;
        if !self.batch_lost() && self.inside {
            self.inside = false;
            if let Err(e) = self.exec("ROLLBACK TO w; RELEASE w") {
                tracing::error!(error = %e, "rolling back a write on SQLite");
            }
        }
        if flush {
            self.flush();
        }
    }

    /// Commit the batch (one fsync, `synchronous = FULL`) and answer everyone in it.
    fn flush(&mut self) {
        if !self.open || self.inside {
            return;
        }
        let r = self.exec("COMMIT");
        if r.is_err() && !self.conn.is_autocommit() {
            let _ = self.exec("ROLLBACK");
        }
        self.open = false;
        for ack in self.acks.drain(..) {
            let _ = ack.send(match &r {
                Ok(()) => Ok(()),
                Err(e) => Err(StoreError::Other(format!("commit failed: {e}"))),
            });
        }
    }

    fn run(mut self, steps: Receiver<Step>) {
        loop {
            // While a batch waits for its commit and nobody is inside it, commit it if no next
            // writer turns up soon (one that was waiting may have given up).
            let next = if self.open && !self.inside {
                match steps.recv_timeout(IDLE_FLUSH) {
                    Ok(s) => s,
                    Err(RecvTimeoutError::Timeout) => {
                        self.flush();
                        continue;
                    }
                    Err(RecvTimeoutError::Disconnected) => break,
                }
            } else {
                match steps.recv() {
                    Ok(s) => s,
                    Err(_) => break,
                }
            };
            match next {
                Step::Begin => {
                    self.broken = self.begin().err().map(|e| e.to_string());
                }
                Step::Run(job) => match &self.broken {
                    Some(e) => job(Err(StoreError::Other(format!(
                        "the transaction could not begin: {e}"
                    )))),
                    None => job(Ok(&mut self.conn)),
                },
                Step::Commit { ack, flush } => self.commit(ack, flush),
                Step::Rollback { flush } => self.rollback(flush),
            }
        }
        self.flush();
    }
}

/// The read-write connection. Logical write transactions take turns on it (`lock`), each a
/// savepoint inside a batch; a batch commits (one fsync) when no other writer is waiting, when
/// it is large or old, or when the thread has been idle for [`IDLE_FLUSH`]. Each transaction's
/// commit is acknowledged only after its batch is durable, so writers that arrive together
/// share one fsync and none hears "done" before its data is on disk.
#[derive(Clone)]
pub struct Writer {
    steps: Sender<Step>,
    lock: Arc<tokio::sync::Mutex<()>>,
    waiting: Arc<AtomicUsize>,
}

/// Counts a writer waiting for its turn, until dropped (also when its wait is cancelled).
struct Waiting(Arc<AtomicUsize>);

impl Drop for Waiting {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

impl Writer {
    /// Start the writer thread with the connection `conn` (already migrated or not).
    pub fn start(conn: Connection) -> StoreResult<Writer> {
        let (steps, rx) = crossbeam_channel::unbounded::<Step>();
        let batcher = Batcher {
            conn,
            open: false,
            inside: false,
            broken: None,
            acks: Vec::new(),
            started: Instant::now(),
        };
        std::thread::Builder::new()
            .name("sqlite-writer".into())
            .spawn(move || batcher.run(rx))
            .map_err(|e| StoreError::database("starting the writer thread", e))?;
        Ok(Writer {
            steps,
            lock: Arc::new(tokio::sync::Mutex::new(())),
            waiting: Arc::new(AtomicUsize::new(0)),
        })
    }

    /// Begin a write transaction: wait for the turn, then open a savepoint.
    pub async fn begin(&self) -> StoreResult<WriteTx> {
        self.turn(self.lock.clone().lock_owned()).await
    }

    /// Begin a write transaction if the turn comes within `wait`.
    pub async fn try_begin(&self, wait: Duration) -> Option<StoreResult<WriteTx>> {
        let got = {
            self.waiting.fetch_add(1, Ordering::SeqCst);
            let _w = Waiting(self.waiting.clone());
            tokio::time::timeout(wait, self.lock.clone().lock_owned())
                .await
                .ok()
        }?;
        Some(self.open(got))
    }

    async fn turn(&self, guard: impl Future<Output = OwnedMutexGuard<()>>) -> StoreResult<WriteTx> {
        let got = {
            self.waiting.fetch_add(1, Ordering::SeqCst);
            let _w = Waiting(self.waiting.clone());
            guard.await
        };
        self.open(got)
    }

    /// Ask for the savepoint without waiting for it (see [`Step::Begin`]).
    fn open(&self, guard: OwnedMutexGuard<()>) -> StoreResult<WriteTx> {
        let tx = WriteTx {
            writer: self.clone(),
            guard: Some(guard),
            tokens: None,
            stale: std::sync::Mutex::default(),
        };
        self.steps.send(Step::Begin).map_err(|_| gone())?;
        Ok(tx)
    }

    /// Nobody is waiting for the writer: a commit now should not wait for company.
    fn alone(&self) -> bool {
        self.waiting.load(Ordering::SeqCst) == 0
    }
}

/// One logical write transaction, holding the writer's turn.
pub struct WriteTx {
    writer: Writer,
    guard: Option<OwnedMutexGuard<()>>,
    /// Told when this transaction commits (see [`TokenCache`]).
    tokens: Option<Arc<TokenCache>>,
    /// What this transaction's writes changed that remembered tokens may depend on.
    stale: std::sync::Mutex<Stale>,
}

impl WriteTx {
    /// Run `f` on the writer's connection, inside this transaction.
    pub async fn run<T: Send + 'static>(
        &self,
        f: impl FnOnce(&mut Connection) -> StoreResult<T> + Send + 'static,
    ) -> StoreResult<T> {
        let (tx, rx) = oneshot::channel();
        self.writer
            .steps
            .send(Step::Run(answer(f, tx)))
            .map_err(|_| gone())?;
        rx.await.map_err(|_| gone())?
    }

    /// A transaction whose commit makes `tokens` forget what its writes changed.
    pub fn noting(mut self, tokens: Arc<TokenCache>) -> WriteTx {
        self.tokens = Some(tokens);
        self
    }

    /// Part of this transaction changed what remembered tokens may depend on.
    pub fn note(&self, stale: Stale) {
        self.stale
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .absorb(stale);
    }

    /// Commit; answers once the batch holding this transaction is on disk. The writer's turn
    /// passes on at once, before the fsync.
    pub async fn commit(mut self) -> StoreResult<()> {
        let (ack, rx) = oneshot::channel();
        let flush = self.writer.alone();
        let sent = self.writer.steps.send(Step::Commit { ack, flush });
        self.guard = None;
        let tokens = self.tokens.take();
        let stale = std::mem::take(
            self.stale
                .get_mut()
                .unwrap_or_else(std::sync::PoisonError::into_inner),
        );
        sent.map_err(|_| gone())?;
        rx.await.map_err(|_| gone())??;
        if let Some(t) = tokens {
            t.forget(&stale);
        }
        Ok(())
    }
}

impl Drop for WriteTx {
    fn drop(&mut self) {
        if self.guard.is_some() {
            let flush = self.writer.alone();
            let _ = self.writer.steps.send(Step::Rollback { flush });
        }
    }
}
