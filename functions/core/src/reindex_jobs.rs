//! Reindex as a job that fans out, for "Recalculate Index" on a registry of
//! any size: a plan task lists the repository's crates and sends them on in
//! batches of [`BATCH_CRATES`]; each batch task rebuilds its crates (as
//! [`Registry::reindex`] does, crate by crate) and records what it did; the
//! batch that finds every batch recorded sends a last task that rebuilds
//! the index mirror whole (the git index, packed for clones).
//! The job and its finished batches live in the metadata store, where
//! `crateyard reindex --status` and `GET /{repo}/api/v1/reindex/{id}` read
//! its progress and errors.
//!
//! Tasks travel by a [`TaskQueue`]. On AWS each task is an object under
//! `.tasks/` whose S3 notification invokes the reindex function: one
//! invocation per task, as many at once as the function's concurrency
//! allows, Lambda's retries when one fails. Locally `crateyard serve` runs
//! them. Every task is idempotent, so a task delivered twice (S3's events
//! are at least once) only does its work again.
//!
//! The same queue carries [`ReindexTask::Mirror`]: a git index update for
//! index files no change stream reports, from a process without the git
//! code (the API function) to one with it.

use crate::access::Permission;
use crate::audit::{Actor, AuditAction, AuditEntry};
use crate::clock::now_rfc3339;
use crate::{BlobError, CrateName, ObjectKey, Principal, PutMode, Registry, RegistryError, TaskId};
use futures_util::{StreamExt, TryStreamExt, stream};
use serde::{Deserialize, Serialize};
use tokio::sync::mpsc;

/// Crates per batch task. On AWS a crate takes a handful of calls (its
/// versions, its two derived files, its READMEs' listing), 32 at a time:
/// 500 crates are a few seconds of one invocation, far from its 15 minutes.
pub const BATCH_CRATES: usize = 500;
/// Errors a batch keeps word for word; the rest are only counted.
const ERRORS_PER_BATCH: usize = 10;
/// Errors a status shows word for word.
const ERRORS_SHOWN: usize = 20;
/// Tasks sent at once by a plan.
const SENDS_AT_ONCE: usize = 32;

/// A reindex job as its plan records it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReindexJob {
    /// `YYYYMMDD-HHMMSS-xxxxxx` (UTC, then random hex): later jobs sort later.
    pub id: String,
    pub repo: String,
    /// Who asked; `None` for an operator's direct invocation.
    pub requested_by: Option<String>,
    pub started_at: String,
    /// Crates and batches, once the plan has listed them.
    pub crates: Option<u64>,
    pub batches: Option<u32>,
}

/// What one batch task did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReindexBatch {
    pub number: u32,
    pub crates: u64,
    /// Crates that could not be rebuilt.
    pub failed: u64,
    /// `crate: error` for the first [`ERRORS_PER_BATCH`] of them.
    pub errors: Vec<String>,
    pub finished_at: String,
}

/// Where a job stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum JobState {
    /// Its crates are being listed.
    Planning,
    Running,
    /// Every batch finished and every crate was rebuilt.
    Done,
    /// Every batch finished; some crates could not be rebuilt (`errors`).
    DoneWithErrors,
}

/// A job's progress, as `--status` and the API show it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ReindexStatus {
    #[serde(flatten)]
    pub job: ReindexJob,
    pub state: JobState,
    pub batches_done: u32,
    pub crates_done: u64,
    pub failed: u64,
    pub errors: Vec<String>,
    /// When the last batch finished, once all have.
    pub finished_at: Option<String>,
}

impl ReindexStatus {
    fn new(job: ReindexJob, batches: &[ReindexBatch]) -> Self {
        let batches_done = batches.len() as u32;
        let failed = batches.iter().map(|b| b.failed).sum();
        let finished = job.batches.is_some_and(|all| batches_done >= all);
        let state = match (job.batches, finished, failed) {
            (None, _, _) => JobState::Planning,
            (Some(_), false, _) => JobState::Running,
            (Some(_), true, 0) => JobState::Done,
            (Some(_), true, _) => JobState::DoneWithErrors,
        };
        let finished_at = finished.then(|| {
            batches
                .iter()
                .map(|b| b.finished_at.clone())
                .max()
                .unwrap_or_else(|| job.started_at.clone())
        });
        Self {
            batches_done,
            crates_done: batches.iter().map(|b| b.crates).sum(),
            failed,
            errors: batches
                .iter()
                .flat_map(|b| b.errors.iter().cloned())
                .take(ERRORS_SHOWN)
                .collect(),
            finished_at,
            state,
            job,
        }
    }
}

/// One unit of a job's work, as it travels.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "task", rename_all = "snake_case", deny_unknown_fields)]
pub enum ReindexTask {
    /// List the crates, record the plan, send the batches.
    Plan { repo: String, job: String },
    /// Rebuild these crates (canonical names).
    Batch {
        repo: String,
        job: String,
        number: u32,
        crates: Vec<String>,
    },
    /// Every batch is done: rebuild the index mirror whole, as
    /// [`Registry::reindex`] does at its end (the git index's tree in one
    /// pack, which the batches' commits left loose).
    Pack { repo: String, job: String },
    /// Bring the index mirror of `repo` (and of the virtual repositories
    /// over it) in step with these crates' index files, or rebuild it
    /// whole (`None`): sent by a process without the mirror that wrote
    /// index files no change stream reports (the API function caching a
    /// remote repository's files, or changing a repository's settings).
    Mirror {
        repo: String,
        crates: Option<Vec<String>>,
    },
}

impl ReindexTask {
    /// `{job}-plan` or `{job}-b{number}`: a task sent again keeps its id.
    fn id(&self) -> Option<TaskId> {
        match self {
            Self::Plan { job, .. } => TaskId::new(&format!("{job}-plan")),
            Self::Batch { job, number, .. } => TaskId::new(&format!("{job}-b{number:06}")),
            Self::Pack { job, .. } => TaskId::new(&format!("{job}-pack")),
            // Each its own: a task deleted when run must not take a later
            // request's copy with it.
            Self::Mirror { .. } => {
                let mut random = [0u8; 16];
                getrandom::fill(&mut random).ok()?;
                TaskId::new(&format!("mirror-{}", hex::encode(random)))
            }
        }
    }
}

/// How tasks reach whoever runs them.
#[derive(Debug, Clone)]
pub enum TaskQueue {
    /// As objects under `.tasks/` (AWS: their S3 notification invokes the
    /// reindex function, which calls [`Registry::run_task_object`]).
    Objects,
    /// To this process (local mode: `crateyard serve` drains the channel
    /// with [`Registry::run_reindex_task`]).
    InProcess(mpsc::UnboundedSender<ReindexTask>),
}

impl Registry {
    /// Lets reindex jobs run: their tasks go by `queue`.
    pub fn with_task_queue(mut self, queue: TaskQueue) -> Self {
        self.tasks = Some(queue);
        self
    }

    /// Starts a reindex job of `repo` (for repository admins when `who` is
    /// given; `None` is an operator with the stack's own credentials) and
    /// returns its status: the work happens in its tasks.
    pub async fn start_reindex_job(
        &self,
        who: Option<&Principal>,
        repo: &str,
    ) -> Result<ReindexStatus, RegistryError> {
        let repository = self.reindex_repository(who, repo).await?;
        // Refused before the job's record is written.
        if self.tasks.is_none() {
            return Err(no_task_queue());
        }
        let job = ReindexJob {
            id: new_job_id()?,
            repo: repository.name.clone(),
            requested_by: who.map(|w| w.login().to_string()),
            started_at: now_rfc3339(),
            crates: None,
            batches: None,
        };
        self.store.put_reindex_job(&job).await?;
        let by = who.map_or_else(Actor::operator, Actor::from);
        let detail = format!("started reindex job {}", job.id);
        self.audit(AuditEntry::new(&by, AuditAction::Reindex, detail).repo(&job.repo))
            .await;
        self.send_task(ReindexTask::Plan {
            repo: job.repo.clone(),
            job: job.id.clone(),
        })
        .await?;
        Ok(ReindexStatus::new(job, &[]))
    }

    /// A job's status (`id`), or the repository's latest job's; for
    /// repository admins when `who` is given.
    pub async fn reindex_status(
        &self,
        who: Option<&Principal>,
        repo: &str,
        id: Option<&str>,
    ) -> Result<ReindexStatus, RegistryError> {
        self.reindex_repository(who, repo).await?;
        let unknown = || {
            RegistryError::UnknownJob(match id {
                Some(id) => format!("repository `{repo}` has no reindex job `{id}`"),
                None => format!("repository `{repo}` has had no reindex job (or they expired)"),
            })
        };
        let id = match id {
            // Ids are the registry's own form (a batch record's key is
            // `{id}#{number}`: nothing else may be looked up as a job).
            Some(id) if TaskId::new(id).is_none() => return Err(unknown()),
            Some(id) => id.to_string(),
            None => self
                .store
                .latest_reindex_job(repo)
                .await?
                .ok_or_else(unknown)?,
        };
        let (job, batches) = self
            .store
            .get_reindex_job(repo, &id)
            .await?
            .ok_or_else(unknown)?;
        Ok(ReindexStatus::new(job, &batches))
    }

    /// The repository a job is about, for its admins when `who` is given
    /// (`None`: an operator with the stack's own credentials).
    async fn reindex_repository(
        &self,
        who: Option<&Principal>,
        repo: &str,
    ) -> Result<crate::Repository, RegistryError> {
        let repository = self.repository(repo).await?;
        if let Some(who) = who {
            self.authorize(Some(who), &repository, Permission::Admin, None)
                .await?;
        }
        Ok(repository)
    }

    /// Runs one task. An error (the stores failing, not a crate that could
    /// not be rebuilt, which its batch records) means it should be retried.
    pub async fn run_reindex_task(&self, task: ReindexTask) -> Result<(), RegistryError> {
        match task {
            ReindexTask::Plan { repo, job } => self.plan_reindex(&repo, &job).await,
            ReindexTask::Batch {
                repo,
                job,
                number,
                crates,
            } => self.reindex_batch(&repo, &job, number, &crates).await,
            ReindexTask::Pack { repo, job } => {
                let repository = self.repository(&repo).await?;
                let packed = self.mirror_repository(&repository).await;
                // The pack is tagged as `repository` says; like every
                // writer, follow a visibility change made meanwhile.
                self.follow_visibility_change(&repository).await?;
                packed?;
                tracing::info!(repo, job, "reindex job's index mirror rebuilt and packed");
                Ok(())
            }
            ReindexTask::Mirror { repo, crates } => {
                let repository = match self.repository(&repo).await {
                    Ok(repository) => repository,
                    // Deleted since: nothing of it is served any more.
                    Err(RegistryError::UnknownRepository(_)) => return Ok(()),
                    Err(e) => return Err(e),
                };
                let mirrored = match crates {
                    Some(names) => {
                        let names = names
                            .iter()
                            .map(|n| CrateName::new(n))
                            .collect::<Result<Vec<_>, _>>()?;
                        self.mirror_crates(&repository, &names).await
                    }
                    None => self.mirror_repository(&repository).await,
                };
                self.follow_visibility_change(&repository).await?;
                mirrored
            }
        }
    }

    /// Runs the task an object under `.tasks/` holds, then removes it. A
    /// task already removed was done by an earlier delivery of its event.
    pub async fn run_task_object(&self, key: &ObjectKey) -> Result<(), RegistryError> {
        if !matches!(key, ObjectKey::Task { .. }) {
            return Err(RegistryError::BadRequest(format!("`{key}` is not a task")));
        }
        let Some((body, _)) = self.blobs.get(key).await? else {
            tracing::info!(%key, "task already done");
            return Ok(());
        };
        let task: ReindexTask = serde_json::from_slice(&body)
            .map_err(|e| RegistryError::BadRequest(format!("`{key}` is not a task: {e}")))?;
        self.run_reindex_task(task).await?;
        match self.blobs.delete(key).await {
            Ok(()) | Err(BlobError::NotFound(_)) => Ok(()),
            Err(e) => Err(e.into()),
        }
    }

    pub(crate) async fn send_task(&self, task: ReindexTask) -> Result<(), RegistryError> {
        match &self.tasks {
            Some(TaskQueue::Objects) => {
                let id = task.id().ok_or_else(|| {
                    RegistryError::BadRequest("a reindex job id makes no task id".into())
                })?;
                let key = ObjectKey::Task { id };
                let body = serde_json::to_vec(&task).expect("tasks serialize");
                let options = key.put_options(true);
                self.blobs
                    .put(&key, body.into(), PutMode::Overwrite, options)
                    .await?;
                Ok(())
            }
            Some(TaskQueue::InProcess(sender)) => sender
                .send(task)
                .map_err(|_| RegistryError::NotSupported("the server is shutting down".into())),
            None => Err(no_task_queue()),
        }
    }

    async fn plan_reindex(&self, repo: &str, id: &str) -> Result<(), RegistryError> {
        let Some((mut job, _)) = self.store.get_reindex_job(repo, id).await? else {
            tracing::warn!(
                repo,
                job = id,
                "plan of an unknown (expired?) reindex job; ignored"
            );
            return Ok(());
        };
        let repository = self.repository(repo).await?;
        self.write_index_config(&repository).await?;
        let crates = self.store.list_crates(repo).await?;
        // Search shards hold only what the crate records say: rebuilt from
        // this listing, not crate by crate in the batches (one write per
        // shard, not one per crate).
        if self.keeps_search_shards() {
            self.rebuild_search_shards(repo, crates.iter()).await?;
        }
        let names: Vec<String> = crates.into_iter().map(|c| c.canonical).collect();
        let batches: Vec<ReindexTask> = names
            .chunks(BATCH_CRATES)
            .enumerate()
            .map(|(i, crates)| ReindexTask::Batch {
                repo: repo.to_string(),
                job: id.to_string(),
                number: i as u32 + 1,
                crates: crates.to_vec(),
            })
            .collect();
        job.crates = Some(names.len() as u64);
        job.batches = Some(batches.len() as u32);
        let none = batches.is_empty();
        // Recorded first: a batch that finishes before the last is sent
        // already counts towards a known total.
        self.store.put_reindex_job(&job).await?;
        stream::iter(batches)
            .map(|task| self.send_task(task))
            .buffer_unordered(SENDS_AT_ONCE)
            .try_collect::<()>()
            .await?;
        // No batch will find the job done: the plan sends the last task.
        if none {
            self.send_pack(repo, id).await?;
        }
        tracing::info!(repo, job = id, crates = names.len(), "reindex planned");
        Ok(())
    }

    async fn reindex_batch(
        &self,
        repo: &str,
        job: &str,
        number: u32,
        crates: &[String],
    ) -> Result<(), RegistryError> {
        let repository = &self.repository(repo).await?;
        // By index: a closure taking `&String` would make the future's
        // lifetime higher-ranked, which Send bounds reject. The git index
        // is left to the job's last task, which rebuilds and packs it
        // whole (`ReindexTask::Pack`).
        let outcomes: Vec<(usize, Result<(), RegistryError>)> = stream::iter(0..crates.len())
            .map(|i| async move {
                let outcome = self.reindex_one_crate(repository, &crates[i]).await;
                (i, outcome.map(drop))
            })
            .buffer_unordered(crate::reindex::REINDEX_CONCURRENCY)
            .collect()
            .await;
        let failures: Vec<String> = outcomes
            .iter()
            .filter_map(|(i, outcome)| {
                outcome
                    .as_ref()
                    .err()
                    .map(|e| format!("{}: {e}", crates[*i]))
            })
            .collect();
        for failure in &failures {
            tracing::error!(repo, job, failure, "a crate could not be reindexed");
        }
        self.follow_visibility_change(repository).await?;
        let batch = ReindexBatch {
            number,
            crates: crates.len() as u64,
            failed: failures.len() as u64,
            errors: failures.into_iter().take(ERRORS_PER_BATCH).collect(),
            finished_at: now_rfc3339(),
        };
        self.store.put_reindex_batch(repo, job, &batch).await?;
        // Each batch looks after recording itself (strongly consistent
        // reads), so the last to record sees them all; two that finish
        // together may both send the task, which only runs twice.
        if let Some((job_record, batches)) = self.store.get_reindex_job(repo, job).await?
            && ReindexStatus::new(job_record, &batches)
                .finished_at
                .is_some()
        {
            self.send_pack(repo, job).await?;
        }
        Ok(())
    }

    async fn send_pack(&self, repo: &str, job: &str) -> Result<(), RegistryError> {
        self.send_task(ReindexTask::Pack {
            repo: repo.to_string(),
            job: job.to_string(),
        })
        .await
    }
}

fn no_task_queue() -> RegistryError {
    RegistryError::NotSupported(
        "reindex jobs run where a task queue is (`crateyard serve`, or the AWS stack); \
         run `crateyard reindex` here instead"
            .into(),
    )
}

/// `YYYYMMDD-HHMMSS-xxxxxx`: sortable by start, unique by its random part.
fn new_job_id() -> Result<String, RegistryError> {
    let mut random = [0u8; 3];
    getrandom::fill(&mut random)
        .map_err(|e| RegistryError::Blob(BlobError::Backend(format!("no randomness: {e}"))))?;
    let now = time::OffsetDateTime::now_utc();
    Ok(format!(
        "{:04}{:02}{:02}-{:02}{:02}{:02}-{}",
        now.year(),
        u8::from(now.month()),
        now.day(),
        now.hour(),
        now.minute(),
        now.second(),
        hex::encode(random)
    ))
}

/// Local mode's task runner (`crateyard serve`): one task at a time (a
/// batch already rebuilds 32 crates at once), each tried up to three times
/// with a pause between, as Lambda retries an asynchronous invocation.
pub async fn run_reindex_tasks(
    registry: std::sync::Arc<Registry>,
    mut tasks: mpsc::UnboundedReceiver<ReindexTask>,
) {
    while let Some(task) = tasks.recv().await {
        for attempt in 1..=3 {
            match registry.run_reindex_task(task.clone()).await {
                Ok(()) => break,
                Err(e) => {
                    tracing::error!(attempt, error = %e, "a reindex task failed");
                    tokio::time::sleep(std::time::Duration::from_secs(attempt)).await;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn job(batches: Option<u32>) -> ReindexJob {
        ReindexJob {
            id: "20261202-000000-abcdef".into(),
            repo: "main".into(),
            requested_by: None,
            started_at: "2026-12-02T00:00:00Z".into(),
            crates: batches.map(|b| u64::from(b) * 500),
            batches,
        }
    }

    fn batch(number: u32, failed: u64) -> ReindexBatch {
        ReindexBatch {
            number,
            crates: 500,
            failed,
            errors: (0..failed.min(10))
                .map(|i| format!("c{number}-{i}: broken"))
                .collect(),
            finished_at: format!("2026-12-02T00:0{number}:00Z"),
        }
    }

    #[test]
    fn a_status_follows_the_plan_and_the_batches() {
        let planning = ReindexStatus::new(job(None), &[]);
        assert_eq!(
            (planning.state, planning.finished_at),
            (JobState::Planning, None)
        );

        let running = ReindexStatus::new(job(Some(3)), &[batch(1, 0), batch(3, 0)]);
        assert_eq!(running.state, JobState::Running);
        assert_eq!((running.batches_done, running.crates_done), (2, 1000));
        assert_eq!(running.finished_at, None);

        let done = ReindexStatus::new(job(Some(2)), &[batch(1, 0), batch(2, 0)]);
        assert_eq!(done.state, JobState::Done);
        assert_eq!(done.finished_at.as_deref(), Some("2026-12-02T00:02:00Z"));

        // Failures: counted in full, shown up to ERRORS_SHOWN.
        let failed = ReindexStatus::new(job(Some(3)), &[batch(1, 12), batch(2, 0), batch(3, 15)]);
        assert_eq!(failed.state, JobState::DoneWithErrors);
        assert_eq!(failed.failed, 27);
        assert_eq!(failed.errors.len(), ERRORS_SHOWN);
        assert_eq!(failed.errors[0], "c1-0: broken");

        // An empty repository: planned with no batch, done at once.
        let empty = ReindexStatus::new(job(Some(0)), &[]);
        assert_eq!(empty.state, JobState::Done);
        assert_eq!(empty.finished_at.as_deref(), Some("2026-12-02T00:00:00Z"));
    }

    #[test]
    fn tasks_keep_their_ids_and_travel_as_json() {
        let plan = ReindexTask::Plan {
            repo: "main".into(),
            job: "20261202-000000-abcdef".into(),
        };
        let batch = ReindexTask::Batch {
            repo: "main".into(),
            job: "20261202-000000-abcdef".into(),
            number: 7,
            crates: vec!["serde".into()],
        };
        assert_eq!(plan.id().unwrap().as_str(), "20261202-000000-abcdef-plan");
        assert_eq!(
            batch.id().unwrap().as_str(),
            "20261202-000000-abcdef-b000007"
        );
        let json = serde_json::to_string(&batch).unwrap();
        assert_eq!(
            json,
            r#"{"task":"batch","repo":"main","job":"20261202-000000-abcdef","number":7,"crates":["serde"]}"#
        );
        assert_eq!(serde_json::from_str::<ReindexTask>(&json).unwrap(), batch);
        let pack = ReindexTask::Pack {
            repo: "main".into(),
            job: "20261202-000000-abcdef".into(),
        };
        assert_eq!(pack.id().unwrap().as_str(), "20261202-000000-abcdef-pack");
        let json = serde_json::to_string(&pack).unwrap();
        assert_eq!(serde_json::from_str::<ReindexTask>(&json).unwrap(), pack);
        // A job id from elsewhere that makes no valid key makes no task.
        let odd = ReindexTask::Plan {
            repo: "main".into(),
            job: "../x".into(),
        };
        assert_eq!(odd.id(), None);
    }

    #[test]
    fn job_ids_sort_by_start() {
        let id = new_job_id().unwrap();
        assert_eq!(id.len(), "20261202-000000-abcdef".len(), "{id}");
        assert!(TaskId::new(&id).is_some(), "{id}");
    }
}
