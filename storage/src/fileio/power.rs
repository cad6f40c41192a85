//! A power-loss model of the file system, as an [`IoHook`] (test support:
//! built for the crate's own tests and with the `power-loss-model`
//! feature, never in production).
//!
//! It follows every [`IoOp`] of one store directory and keeps what a disk
//! would still hold if power were cut right now:
//!
//! - per file, its **durable image**: its bytes as of its last
//!   fdatasync/fsync ([`IoOp::Sync`]). The file is read when the sync is
//!   issued, so writes made through a memory map (consume queues, key
//!   index) are covered as well as `pwrite`s; a file never synced is empty.
//! - per directory, its **durable entries**: the names it held at its last
//!   fsync ([`IoOp::SyncDir`]). A created, renamed or removed entry is
//!   durable only once its directory is synced: until then a new file is
//!   absent, a removed one is back (with its durable image), and a rename
//!   resolves to the old state.
//!
//! [`PowerLossModel::image`] builds the state a disk could hold after a cut
//! at this moment, as one of three [`Variant`]s:
//!
//! | variant | names | file contents |
//! |---|---|---|
//! | [`Variant::Durable`] | durable entries | durable images |
//! | [`Variant::Torn`] | durable entries | each 512-byte sector written since its file's last sync is, at random, its durable bytes, its live bytes, or (commit-log segments only) its durable bytes up to the first un-synced byte and garbage after it; the length is the durable or the live one |
//! | [`Variant::NamesLive`] | the live entries (metadata journaled, data not) | durable images (a file never synced is empty) |
//!
//! Garbage goes only into commit-log segments, whose records carry CRCs:
//! write-back persists whole sectors of old or new content, never random
//! bytes, and the consume-queue and key-index formats are not checksummed
//! against media corruption.
//!
//! With a [`CutPlan`] the model takes those images by itself just before
//! the operations the plan selects ("power cut before op N": every op
//! before N happened, N and later did not); [`PowerLossModel::take_cuts`]
//! hands them over, and [`Image::write_to`] lays one out in a fresh
//! directory for the store to reopen. The model follows the operations as
//! they are issued; an operation that then fails for real (not expected in
//! a test) leaves the model ahead of the disk.

use std::collections::{BTreeMap, HashMap};
use std::ffi::OsString;
use std::io;
use std::ops::Bound;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Instant;

use super::{IoHook, IoOp};

/// Granularity of torn writes: a disk persists whole sectors.
pub const SECTOR_BYTES: usize = 512;
/// Name of the commit-log directory: the only files that get garbage.
const COMMITLOG_DIR: &str = "commitlog";

/// Which disk state a cut image shows (see the module doc).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Variant {
    /// Exactly what was synced.
    Durable,
    /// Synced state plus a random mix of un-synced sectors (seeded).
    Torn { seed: u64 },
    /// Live directory entries, synced file contents.
    NamesLive,
}

/// Which operations to cut power before, and which images to take there.
#[derive(Debug, Clone)]
pub struct CutPlan {
    /// Cut before every `every`-th operation (1 = every operation).
    pub every: u64,
    /// Images taken at each cut.
    pub variants: Vec<Variant>,
}

/// One entry of an [`Image`].
#[derive(Debug, Clone)]
pub enum ImageEntry {
    Dir,
    File(Arc<Vec<u8>>),
}

/// A directory tree as a disk would hold it after a cut: paths relative to
/// the model's root, every directory listed before what it contains.
#[derive(Debug, Clone, Default)]
pub struct Image {
    pub entries: Vec<(PathBuf, ImageEntry)>,
}

impl Image {
    /// Lays the image out under `dir` (which must exist and be empty).
    pub fn write_to(&self, dir: &Path) -> io::Result<()> {
        for (path, entry) in &self.entries {
            let target = dir.join(path);
            match entry {
                ImageEntry::Dir => std::fs::create_dir_all(&target)?,
                ImageEntry::File(bytes) => std::fs::write(&target, bytes.as_slice())?,
            }
        }
        Ok(())
    }

    /// The bytes of the file at `path` (relative), if the image holds it.
    pub fn file(&self, path: &Path) -> Option<&[u8]> {
        self.entries.iter().find_map(|(p, e)| match e {
            ImageEntry::File(bytes) if p == path => Some(bytes.as_slice()),
            _ => None,
        })
    }
}

/// Images taken before one operation.
#[derive(Debug, Clone)]
pub struct Cut {
    /// Index of the operation that did not happen (0-based; every earlier
    /// one did).
    pub op: u64,
    pub at: Instant,
    pub variant: Variant,
    pub image: Image,
}

type NodeId = usize;

#[derive(Debug)]
enum Node {
    File { durable: Option<Arc<Vec<u8>>> },
    Dir { durable: BTreeMap<OsString, NodeId> },
}

#[derive(Debug)]
struct State {
    root: PathBuf,
    nodes: Vec<Node>,
    /// Every live path under the root (the root included) and its node.
    live: BTreeMap<PathBuf, NodeId>,
    ops: u64,
    plan: Option<CutPlan>,
    cuts: Vec<Cut>,
}

/// The model; install with [`super::Io::with_hook`].
#[derive(Debug)]
pub struct PowerLossModel {
    state: Mutex<State>,
}

impl PowerLossModel {
    /// A model of the tree under `root` (which must exist), taking what is
    /// there now as durable, and cutting per `plan` if given.
    pub fn new(root: &Path, plan: Option<CutPlan>) -> io::Result<Arc<Self>> {
        let mut state = State {
            root: root.to_path_buf(),
            nodes: Vec::new(),
            live: BTreeMap::new(),
            ops: 0,
            plan,
            cuts: Vec::new(),
        };
        state.scan_durable(root)?;
        Ok(Arc::new(Self {
            state: Mutex::new(state),
        }))
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // A panic elsewhere while holding the lock leaves a usable state.
        self.state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Operations seen so far (the index the next one will get).
    pub fn ops(&self) -> u64 {
        self.lock().ops
    }

    /// The image a cut right now would leave.
    pub fn image(&self, variant: Variant) -> io::Result<Image> {
        self.lock().image(variant)
    }

    /// Cuts taken so far by the plan (emptying the list).
    pub fn take_cuts(&self) -> Vec<Cut> {
        std::mem::take(&mut self.lock().cuts)
    }
}

impl IoHook for PowerLossModel {
    fn before(&self, op: &IoOp) -> io::Result<()> {
        let mut state = self.lock();
        let index = state.ops;
        let plan = state
            .plan
            .clone()
            .filter(|plan| index.is_multiple_of(plan.every.max(1)));
        if let Some(plan) = plan {
            let at = Instant::now();
            for variant in plan.variants {
                let image = state.image(variant)?;
                state.cuts.push(Cut {
                    op: index,
                    at,
                    variant,
                    image,
                });
            }
        }
        state.apply(op)?;
        state.ops += 1;
        Ok(())
    }

    fn after(&self, _op: &IoOp) -> io::Result<()> {
        Ok(())
    }
}

impl State {
    fn add(&mut self, node: Node) -> NodeId {
        self.nodes.push(node);
        self.nodes.len() - 1
    }

    /// Records the existing tree at `path` as durable.
    fn scan_durable(&mut self, path: &Path) -> io::Result<NodeId> {
        let meta = std::fs::symlink_metadata(path)?;
        let id = if meta.is_dir() {
            let mut entries = BTreeMap::new();
            let mut names: Vec<_> = std::fs::read_dir(path)?
                .map(|e| e.map(|e| e.file_name()))
                .collect::<io::Result<_>>()?;
            names.sort();
            for name in names {
                let child = self.scan_durable(&path.join(&name))?;
                entries.insert(name, child);
            }
            self.add(Node::Dir { durable: entries })
        } else {
            let bytes = std::fs::read(path)?;
            self.add(Node::File {
                durable: Some(Arc::new(bytes)),
            })
        };
        self.live.insert(path.to_path_buf(), id);
        Ok(id)
    }

    fn under_root(&self, path: &Path) -> bool {
        path.starts_with(&self.root)
    }

    /// Live paths strictly below `dir`.
    fn descendants(&self, dir: &Path) -> Vec<PathBuf> {
        self.live
            .range::<Path, _>((Bound::Excluded(dir), Bound::Unbounded))
            .map(|(p, _)| p)
            .take_while(|p| p.starts_with(dir))
            .cloned()
            .collect()
    }

    /// Makes `path`'s missing ancestors live (new, not yet durable, dirs).
    fn ensure_dirs(&mut self, path: &Path) {
        let missing: Vec<PathBuf> = path
            .ancestors()
            .take_while(|p| self.under_root(p) && !self.live.contains_key(*p))
            .map(Path::to_path_buf)
            .collect();
        for dir in missing.into_iter().rev() {
            let id = self.add(Node::Dir {
                durable: BTreeMap::new(),
            });
            self.live.insert(dir, id);
        }
    }

    fn remove_tree(&mut self, path: &Path) {
        for child in self.descendants(path) {
            self.live.remove(&child);
        }
        self.live.remove(path);
    }

    fn apply(&mut self, op: &IoOp) -> io::Result<()> {
        match op {
            IoOp::Create(path) if self.under_root(path) && !self.live.contains_key(path) => {
                if let Some(parent) = path.parent() {
                    self.ensure_dirs(parent);
                }
                let id = self.add(Node::File { durable: None });
                self.live.insert(path.clone(), id);
            }
            IoOp::CreateDir(path) if self.under_root(path) => self.ensure_dirs(path),
            IoOp::Sync(path) if self.under_root(path) => {
                // Read now, before the sync runs: what is there now is
                // durable once it returns; what is written meanwhile may not be.
                let bytes = Arc::new(std::fs::read(path)?);
                match self.live.get(path).and_then(|id| self.nodes.get_mut(*id)) {
                    Some(Node::File { durable }) => *durable = Some(bytes),
                    _ => {
                        // A file created behind the model's back: take it as new.
                        if let Some(parent) = path.parent() {
                            self.ensure_dirs(parent);
                        }
                        let id = self.add(Node::File {
                            durable: Some(bytes),
                        });
                        self.live.insert(path.clone(), id);
                    }
                }
            }
            IoOp::SyncDir(dir) if self.under_root(dir) => {
                let entries: BTreeMap<OsString, NodeId> = self
                    .descendants(dir)
                    .into_iter()
                    .filter(|p| p.parent() == Some(dir.as_path()))
                    .filter_map(|p| {
                        let id = *self.live.get(&p)?;
                        Some((p.file_name()?.to_os_string(), id))
                    })
                    .collect();
                if let Some(Node::Dir { durable }) =
                    self.live.get(dir).and_then(|id| self.nodes.get_mut(*id))
                {
                    *durable = entries;
                }
            }
            IoOp::Rename { from, to } if self.under_root(from) && self.under_root(to) => {
                let moved: Vec<(PathBuf, NodeId)> = std::iter::once(from.clone())
                    .chain(self.descendants(from))
                    .filter_map(|p| Some((p.clone(), *self.live.get(&p)?)))
                    .collect();
                self.remove_tree(to);
                for (path, id) in moved {
                    self.live.remove(&path);
                    // (`join("")` would add a trailing separator.)
                    let moved_to = match path.strip_prefix(from) {
                        Ok(suffix) if !suffix.as_os_str().is_empty() => to.join(suffix),
                        _ => to.clone(),
                    };
                    self.live.insert(moved_to, id);
                }
            }
            IoOp::Remove(path) | IoOp::RemoveDirAll(path) if self.under_root(path) => {
                self.remove_tree(path);
            }
            _ => {}
        }
        Ok(())
    }

    fn durable_of(&self, id: NodeId) -> Arc<Vec<u8>> {
        match self.nodes.get(id) {
            Some(Node::File {
                durable: Some(bytes),
            }) => bytes.clone(),
            _ => Arc::new(Vec::new()),
        }
    }

    fn image(&self, variant: Variant) -> io::Result<Image> {
        let mut image = Image::default();
        match variant {
            Variant::Durable => {
                self.durable_tree(&mut image, Path::new(""), self.root_id(), None)?
            }
            Variant::Torn { seed } => {
                let live_paths: HashMap<NodeId, &PathBuf> =
                    self.live.iter().map(|(p, id)| (*id, p)).collect();
                let mut torn = Torn {
                    rng: SplitMix64(seed ^ self.ops.wrapping_mul(0x9E37_79B9_7F4A_7C15)),
                    live_paths,
                };
                self.durable_tree(&mut image, Path::new(""), self.root_id(), Some(&mut torn))?;
            }
            Variant::NamesLive => {
                for (path, id) in &self.live {
                    let Ok(relative) = path.strip_prefix(&self.root) else {
                        continue;
                    };
                    if relative.as_os_str().is_empty() {
                        continue;
                    }
                    let entry = match self.nodes.get(*id) {
                        Some(Node::Dir { .. }) => ImageEntry::Dir,
                        _ => ImageEntry::File(self.durable_of(*id)),
                    };
                    image.entries.push((relative.to_path_buf(), entry));
                }
            }
        }
        Ok(image)
    }

    fn root_id(&self) -> Option<NodeId> {
        self.live.get(&self.root).copied()
    }

    /// Adds the durable entries of directory `id` (at `relative`) to `image`.
    fn durable_tree(
        &self,
        image: &mut Image,
        relative: &Path,
        id: Option<NodeId>,
        mut torn: Option<&mut Torn<'_>>,
    ) -> io::Result<()> {
        let Some(Node::Dir { durable }) = id.and_then(|id| self.nodes.get(id)) else {
            return Ok(());
        };
        for (name, child) in durable {
            let path = relative.join(name);
            match self.nodes.get(*child) {
                Some(Node::Dir { .. }) => {
                    image.entries.push((path.clone(), ImageEntry::Dir));
                    self.durable_tree(image, &path, Some(*child), torn.as_deref_mut())?;
                }
                _ => {
                    let durable = self.durable_of(*child);
                    let bytes = match torn.as_deref_mut() {
                        Some(torn) => {
                            let garbage = path.starts_with(COMMITLOG_DIR);
                            torn.mix(*child, durable, garbage)?
                        }
                        None => durable,
                    };
                    image.entries.push((path, ImageEntry::File(bytes)));
                }
            }
        }
        Ok(())
    }
}

/// What the torn variant needs: a seeded generator and where each node's
/// live bytes are.
struct Torn<'a> {
    rng: SplitMix64,
    live_paths: HashMap<NodeId, &'a PathBuf>,
}

impl Torn<'_> {
    /// The durable bytes with each differing sector of the live file taken
    /// at random from either (or garbage, if allowed).
    fn mix(
        &mut self,
        id: NodeId,
        durable: Arc<Vec<u8>>,
        garbage: bool,
    ) -> io::Result<Arc<Vec<u8>>> {
        let Some(path) = self.live_paths.get(&id) else {
            return Ok(durable); // unlinked: its un-synced bytes are gone
        };
        let live = std::fs::read(path)?;
        if live == *durable {
            return Ok(durable);
        }
        let len = if self.rng.below(2) == 0 {
            durable.len()
        } else {
            live.len()
        };
        let mut out = vec![0u8; len];
        for (at, sector) in out.chunks_mut(SECTOR_BYTES).enumerate() {
            let from = at * SECTOR_BYTES;
            let old = durable.get(from..).unwrap_or_default();
            let new = live.get(from..).unwrap_or_default();
            let (old, new) = (
                old.get(..sector.len().min(old.len())).unwrap_or_default(),
                new.get(..sector.len().min(new.len())).unwrap_or_default(),
            );
            let choice = if old == new {
                0
            } else {
                self.rng.below(if garbage { 3 } else { 2 })
            };
            let source = if choice == 1 { new } else { old };
            if let Some(target) = sector.get_mut(..source.len()) {
                target.copy_from_slice(source);
            }
            if choice == 2 {
                // Garbage from the first byte the sync did not cover: the
                // synced bytes before it stay (a sector is old or new, and
                // what was synced in it is in both).
                let first_new = old.iter().zip(new).take_while(|(a, b)| a == b).count();
                if let Some(tail) = sector.get_mut(first_new..) {
                    self.rng.fill(tail);
                }
            }
        }
        Ok(Arc::new(out))
    }
}

/// SplitMix64: a small seeded generator (test support needs repeatable
/// choices, not quality randomness).
struct SplitMix64(u64);

impl SplitMix64 {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }

    fn fill(&mut self, bytes: &mut [u8]) {
        for chunk in bytes.chunks_mut(8) {
            let word = self.next().to_le_bytes();
            chunk.copy_from_slice(word.get(..chunk.len()).unwrap_or_default());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::Io;
    use super::*;

    fn model(dir: &Path) -> (Arc<PowerLossModel>, Io) {
        let model = PowerLossModel::new(dir, None).unwrap();
        let io = Io::with_hook(model.clone());
        (model, io)
    }

    fn files(image: &Image) -> Vec<(String, Vec<u8>)> {
        image
            .entries
            .iter()
            .filter_map(|(p, e)| match e {
                ImageEntry::File(b) => Some((p.display().to_string(), b.to_vec())),
                ImageEntry::Dir => None,
            })
            .collect()
    }

    #[test]
    fn what_existed_before_the_model_is_durable() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("d")).unwrap();
        std::fs::write(dir.path().join("d/f"), b"old").unwrap();
        let (model, _io) = model(dir.path());
        let image = model.image(Variant::Durable).unwrap();
        assert_eq!(files(&image), vec![("d/f".into(), b"old".to_vec())]);
    }

    #[test]
    fn a_new_file_needs_its_data_and_its_directory_synced() {
        let dir = tempfile::tempdir().unwrap();
        let (model, io) = model(dir.path());
        let path = dir.path().join("f");
        let file = io.open(&path, true).unwrap();
        io.write_all_at(&path, &file, b"abc", 0).unwrap();
        assert!(files(&model.image(Variant::Durable).unwrap()).is_empty());
        // Names journaled, data not: the file is there, empty.
        assert_eq!(
            files(&model.image(Variant::NamesLive).unwrap()),
            vec![("f".into(), vec![])]
        );
        io.sync_data(&path, &file).unwrap();
        assert!(files(&model.image(Variant::Durable).unwrap()).is_empty());
        io.sync_dir(dir.path()).unwrap();
        assert_eq!(
            files(&model.image(Variant::Durable).unwrap()),
            vec![("f".into(), b"abc".to_vec())]
        );
        // Later writes are not durable until the next sync.
        io.write_all_at(&path, &file, b"xyz", 3).unwrap();
        assert_eq!(
            files(&model.image(Variant::Durable).unwrap()),
            vec![("f".into(), b"abc".to_vec())]
        );
    }

    #[test]
    fn writes_through_a_memory_map_are_durable_at_the_files_sync() {
        let dir = tempfile::tempdir().unwrap();
        let (model, io) = model(dir.path());
        let path = dir.path().join("q/map");
        let mut map = crate::mmap::MappedFile::open(&io, &path, 8, true).unwrap();
        map.bytes_mut()[0] = 9;
        io.sync_dir(&dir.path().join("q")).unwrap();
        io.sync_dir(dir.path()).unwrap();
        assert_eq!(
            files(&model.image(Variant::Durable).unwrap()),
            vec![("q/map".into(), vec![])]
        );
        io.sync_paths(std::slice::from_ref(&path)).unwrap();
        assert_eq!(
            files(&model.image(Variant::Durable).unwrap()),
            vec![("q/map".into(), vec![9, 0, 0, 0, 0, 0, 0, 0])]
        );
    }

    #[test]
    fn an_unsynced_rename_or_removal_resolves_to_the_old_state() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("checkpoint"), b"v1").unwrap();
        std::fs::write(dir.path().join("gone"), b"g").unwrap();
        let (model, io) = model(dir.path());
        let path = dir.path().join("checkpoint");
        let tmp = path.with_extension("tmp");
        let file = io.create_truncated(&tmp).unwrap();
        io.write_all_at(&tmp, &file, b"v2", 0).unwrap();
        io.sync_all(&tmp, &file).unwrap();
        io.rename(&tmp, &path).unwrap();
        io.remove_file(&dir.path().join("gone")).unwrap();
        let before_sync = files(&model.image(Variant::Durable).unwrap());
        assert_eq!(
            before_sync,
            vec![
                ("checkpoint".into(), b"v1".to_vec()),
                ("gone".into(), b"g".to_vec())
            ]
        );
        assert_eq!(
            files(&model.image(Variant::NamesLive).unwrap()),
            vec![("checkpoint".into(), b"v2".to_vec())]
        );
        io.sync_dir(dir.path()).unwrap();
        assert_eq!(
            files(&model.image(Variant::Durable).unwrap()),
            vec![("checkpoint".into(), b"v2".to_vec())]
        );
    }

    #[test]
    fn a_removed_directory_tree_is_back_until_its_parent_is_synced() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("cq/T/0")).unwrap();
        std::fs::write(dir.path().join("cq/T/0/f"), b"units").unwrap();
        let (model, io) = model(dir.path());
        io.remove_dir_all(&dir.path().join("cq")).unwrap();
        io.create_dir_all(&dir.path().join("cq")).unwrap();
        assert_eq!(
            files(&model.image(Variant::Durable).unwrap()),
            vec![("cq/T/0/f".into(), b"units".to_vec())]
        );
        io.sync_dir(dir.path()).unwrap();
        let image = model.image(Variant::Durable).unwrap();
        assert!(files(&image).is_empty());
        assert_eq!(image.entries.len(), 1, "the new, empty cq directory");
    }

    #[test]
    fn torn_images_mix_whole_sectors_of_old_and_new_bytes() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("f"), vec![1u8; 4 * SECTOR_BYTES]).unwrap();
        let (model, io) = model(dir.path());
        let path = dir.path().join("f");
        let file = io.open(&path, false).unwrap();
        io.write_all_at(&path, &file, &vec![2u8; 4 * SECTOR_BYTES], 0)
            .unwrap();
        let mut seen_old = false;
        let mut seen_new = false;
        for seed in 0..16 {
            let image = model.image(Variant::Torn { seed }).unwrap();
            let bytes = image.file(Path::new("f")).unwrap();
            for sector in bytes.chunks(SECTOR_BYTES) {
                assert!(sector.iter().all(|b| *b == sector[0]), "a sector is whole");
                seen_old |= sector[0] == 1;
                seen_new |= sector[0] == 2;
            }
        }
        assert!(seen_old && seen_new);
    }

    #[test]
    fn a_plan_takes_images_before_the_operations_it_selects() {
        let dir = tempfile::tempdir().unwrap();
        let plan = CutPlan {
            every: 1,
            variants: vec![Variant::Durable],
        };
        let model = PowerLossModel::new(dir.path(), Some(plan)).unwrap();
        let io = Io::with_hook(model.clone());
        io.write_atomically(&dir.path().join("c"), b"x").unwrap();
        let cuts = model.take_cuts();
        assert_eq!(cuts.len(), 5);
        assert_eq!(model.ops(), 5);
        // Before the directory sync (op 4) nothing is durable yet.
        assert!(files(&cuts[4].image).is_empty());
        assert_eq!(
            files(&model.image(Variant::Durable).unwrap()),
            vec![("c".into(), b"x".to_vec())]
        );
    }
}
