//! One wasmtime engine per process: its pooling allocator sized to the
//! sandbox's slots, the epoch thread that enforces wall-clock limits, the
//! guest component linked against WASI and the host's imports, and the slots
//! that bound how many executions run at once. Each execution then gets a
//! fresh store (see `host`).

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use thiserror::Error;
use wasmtime::component::{HasSelf, Linker};
use wasmtime::{Engine, InstanceAllocationStrategy, PoolingAllocationConfig};

use crate::cache;
use crate::core_guest::CoreGuest;
use crate::host::{self, Host};
use curio_trace::{Execution, Language, MAX_MEMORY_BYTES, Trace};

wasmtime::component::bindgen!({
    path: "guests/python/wit",
    world: "tracer",
    imports: { default: trappable },
});

/// How often the engine's epoch advances; the wall-clock limit's resolution.
pub(crate) const EPOCH_TICK: Duration = Duration::from_millis(10);

/// Sandbox settings.
#[derive(Clone, Debug)]
pub struct SandboxConfig {
    /// Executions that may run at once (instance slots reserved up front).
    /// Default: the number of CPUs.
    pub slots: u32,
    /// Folder for the compiled guest. Default: `$CURIO_CACHE_DIR`, else
    /// `$XDG_CACHE_HOME/curio`, else `~/.cache/curio`.
    pub cache_dir: PathBuf,
    /// Cap on each repr in a trace, bytes. Default: 200.
    pub repr_cap: u32,
    /// Cap on the step data kept per trace, bytes; later steps are counted
    /// but dropped (`truncated`). Default: 8 MiB.
    pub max_trace_bytes: u64,
}

impl Default for SandboxConfig {
    fn default() -> Self {
        SandboxConfig {
            slots: thread::available_parallelism().map_or(2, |n| n.get() as u32),
            cache_dir: cache::default_cache_dir(),
            repr_cap: 200,
            max_trace_bytes: 8 << 20,
        }
    }
}

/// The sandbox could not run an execution at all (as opposed to a program
/// that failed, which is a [`Status`]).
#[derive(Debug, Error)]
pub enum SandboxError {
    /// wasmtime refused the engine's configuration.
    #[error("could not set up the wasmtime engine: {0}")]
    Engine(String),
    /// The guest could not be compiled, loaded, linked or instantiated, or
    /// it failed in a way that is no program's doing.
    #[error("could not load the guest component: {0}")]
    Guest(String),
}

/// Compiled guests plus the engine that runs them; share it behind an `Arc`.
pub struct Sandbox {
    engine: Engine,
    pre: TracerPre<Host>,
    lua: CoreGuest,
    js: CoreGuest,
    config: SandboxConfig,
    /// Whether the guests came from the on-disk cache (else they were compiled).
    pub from_cache: bool,
    /// Time to compile or deserialize the guests.
    pub load_time: Duration,
    ticker: Arc<AtomicBool>,
    slots: Slots,
}

/// Counts executions in flight so no caller can take more instance slots
/// than the pooling allocator reserved; extra callers wait their turn.
#[derive(Debug)]
struct Slots {
    used: Mutex<u32>,
    freed: Condvar,
    max: u32,
}

impl Slots {
    fn acquire(&self) -> SlotGuard<'_> {
        let mut used = self.used.lock().unwrap_or_else(|e| e.into_inner());
        while *used >= self.max {
            used = self.freed.wait(used).unwrap_or_else(|e| e.into_inner());
        }
        *used += 1;
        SlotGuard(self)
    }
}

struct SlotGuard<'a>(&'a Slots);

impl Drop for SlotGuard<'_> {
    fn drop(&mut self) {
        *self.0.used.lock().unwrap_or_else(|e| e.into_inner()) -= 1;
        self.0.freed.notify_one();
    }
}

impl std::fmt::Debug for Sandbox {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sandbox").field("config", &self.config).finish_non_exhaustive()
    }
}

impl Drop for Sandbox {
    fn drop(&mut self) {
        self.ticker.store(true, Ordering::Relaxed);
    }
}

impl Sandbox {
    /// Builds the engine and loads the guests: from the cache in
    /// milliseconds, or compiled once (about 16 s on 2 cores) and cached.
    pub fn new(config: SandboxConfig) -> Result<Self, SandboxError> {
        let engine = engine(&config).map_err(|e| SandboxError::Engine(e.to_string()))?;
        let started = Instant::now();
        let (component, python_cached) =
            cache::load::<wasmtime::component::Component>(&engine, &config.cache_dir, &cache::PYTHON)?;
        let lua = CoreGuest::new(&engine, &config.cache_dir, &cache::LUA)?;
        let js = CoreGuest::new(&engine, &config.cache_dir, &cache::JS)?;
        let from_cache = python_cached && lua.from_cache && js.from_cache;
        let load_time = started.elapsed();
        let mut linker = Linker::<Host>::new(&engine);
        wasmtime_wasi::p2::add_to_linker_sync(&mut linker).map_err(guest_err)?;
        curio::guest::host::add_to_linker::<Host, HasSelf<Host>>(&mut linker, |h| h).map_err(guest_err)?;
        let pre = linker.instantiate_pre(&component).map_err(guest_err)?;
        let pre = TracerPre::new(pre).map_err(guest_err)?;
        let ticker = start_ticker(engine.clone());
        let slots = Slots { used: Mutex::new(0), freed: Condvar::new(), max: config.slots.max(1) };
        Ok(Sandbox { engine, pre, lua, js, config, from_cache, load_time, ticker, slots })
    }

    /// The settings this sandbox was built with.
    pub(crate) fn config(&self) -> &SandboxConfig {
        &self.config
    }

    /// Runs one (already validated) execution in a fresh store. Blocks the
    /// calling thread while all slots are busy, then for at most the
    /// request's wall-clock limit plus one epoch tick.
    pub fn execute(&self, exec: &Execution) -> Result<Trace, SandboxError> {
        let _slot = self.slots.acquire();
        match exec.language {
            Language::Python => host::execute(&self.engine, &self.pre, exec, &self.config),
            Language::Lua => self.lua.execute(&self.engine, exec, &self.config),
            Language::Js => self.js.execute(&self.engine, exec, &self.config),
        }
    }
}

fn guest_err(e: wasmtime::Error) -> SandboxError {
    SandboxError::Guest(format!("{e:#}"))
}

fn engine(config: &SandboxConfig) -> wasmtime::Result<Engine> {
    let slots = config.slots.max(1);
    let mut pool = PoolingAllocationConfig::default();
    // The CPython component has 32-38 core instances and a few memories and
    // tables; these bounds leave room without reserving absurd address space.
    pool.total_component_instances(slots)
        .max_core_instances_per_component(64)
        .total_core_instances(slots * 64)
        .max_memories_per_component(8)
        .total_memories(slots * 8)
        .max_tables_per_component(16)
        .total_tables(slots * 16)
        .max_memory_size(MAX_MEMORY_BYTES as usize)
        .table_elements(64 * 1024)
        .max_component_instance_size(1 << 20)
        .max_core_instance_size(4 << 20)
        // Without this, concurrent executions fight over page faults.
        .linear_memory_keep_resident(64 << 20)
        .table_keep_resident(1 << 20);
    let mut c = wasmtime::Config::new();
    c.wasm_component_model(true)
        // Lua's errors unwind (setjmp/longjmp) as WebAssembly exceptions.
        .wasm_exceptions(true)
        .epoch_interruption(true)
        .cranelift_opt_level(wasmtime::OptLevel::Speed)
        .allocation_strategy(InstanceAllocationStrategy::Pooling(pool));
    Engine::new(&c)
}

/// Advances the engine's epoch every tick until the flag is set.
fn start_ticker(engine: Engine) -> Arc<AtomicBool> {
    let stop = Arc::new(AtomicBool::new(false));
    let flag = stop.clone();
    thread::Builder::new()
        .name("curio-epoch".into())
        .spawn(move || {
            while !flag.load(Ordering::Relaxed) {
                thread::sleep(EPOCH_TICK);
                engine.increment_epoch();
            }
        })
        .expect("spawning the epoch thread");
    stop
}
