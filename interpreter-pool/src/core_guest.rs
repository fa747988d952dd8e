//! The guests that are core WebAssembly modules: Lua 5.4 with `tracer.lua`
//! (`guests/lua`) and QuickJS-NG with `curio_trace.c` (`guests/js`). Both
//! speak one protocol. Each execution instantiates the module in a fresh
//! store, places the source and the input in its memory, and calls
//! `curio_run`, which streams events through `curio.emit` and ends with
//! `curio.finish`.
//!
//! The module imports WASI only because its C library does: the clock reads
//! the store's virtual clock, the environment is empty, and every other WASI
//! call (files, sockets, arguments) answers "not capable". What the guest
//! hands over passes the same checks as the Python guest's.

use std::path::Path;
use std::time::Instant;

use wasmtime::{Caller, Engine, Extern, InstancePre, Linker, Memory, Module, Store, Val, ValType};

use crate::cache;
use crate::host::{self, Host, Stop};
use crate::sandbox::{SandboxConfig, SandboxError};
use curio_trace::{Execution, Trace};

/// WASI's "bad descriptor" errno: the guest has no descriptors at all, so
/// every `fd_*` and `path_*` call gets it (the C library's start-up probes
/// for preopened folders until it sees this).
const ERRNO_BADF: i32 = 8;
/// WASI's "not capable" errno: the answer to every other call that would need
/// a capability the guest has not got.
const ERRNO_NOTCAPABLE: i32 = 76;
const ERRNO_SUCCESS: i32 = 0;
const WASI: &str = "wasi_snapshot_preview1";

/// A compiled guest module, linked and ready to instantiate.
pub(crate) struct CoreGuest {
    pre: InstancePre<Host>,
    /// Whether the module came from the on-disk cache (else it was compiled).
    pub(crate) from_cache: bool,
}

impl CoreGuest {
    pub(crate) fn new(engine: &Engine, cache_dir: &Path, guest: &cache::Guest) -> Result<Self, SandboxError> {
        let (module, from_cache) = cache::load::<Module>(engine, cache_dir, guest)?;
        let mut linker = Linker::<Host>::new(engine);
        link_host(&mut linker).map_err(guest_err)?;
        link_wasi(&mut linker, &module).map_err(guest_err)?;
        let pre = linker.instantiate_pre(&module).map_err(guest_err)?;
        Ok(CoreGuest { pre, from_cache })
    }

    /// Runs one (already validated) execution in a fresh store.
    pub(crate) fn execute(
        &self,
        engine: &Engine,
        exec: &Execution,
        config: &SandboxConfig,
    ) -> Result<Trace, SandboxError> {
        let started = Instant::now();
        let mut store = host::new_store(engine, exec, config, started);
        let outcome = self.pre.instantiate(&mut store).map(|instance| {
            let instantiated = started.elapsed();
            let ran = run(&mut store, &instance, exec, config.repr_cap).and_then(|()| {
                let summary = store.data_mut().summary.take();
                summary.ok_or_else(|| Stop::Tampered("the guest returned without a summary".into()).into())
            });
            (instantiated, ran)
        });
        host::conclude(store, exec, started, outcome)
    }
}

fn guest_err(e: wasmtime::Error) -> SandboxError {
    SandboxError::Guest(format!("{e:#}"))
}

/// Initialises the module, places the source and the input, runs them.
fn run(
    store: &mut Store<Host>,
    instance: &wasmtime::Instance,
    exec: &Execution,
    repr_cap: u32,
) -> wasmtime::Result<()> {
    instance.get_typed_func::<(), ()>(&mut *store, "_initialize")?.call(&mut *store, ())?;
    let alloc = instance.get_typed_func::<u32, u32>(&mut *store, "curio_alloc")?;
    let memory = instance.get_memory(&mut *store, "memory").ok_or_else(|| wasmtime::format_err!("no memory export"))?;
    // Copies `bytes` into memory the guest allocated: (address, length).
    let mut place = |bytes: &[u8]| -> wasmtime::Result<(u32, u32)> {
        let len = u32::try_from(bytes.len())?;
        let at = alloc.call(&mut *store, len)?;
        if at == 0 {
            // Out of memory before the program ran: the host's cap said no.
            wasmtime::bail!("the guest could not allocate {len} bytes for its input");
        }
        memory.write(&mut *store, at as usize, bytes)?;
        Ok((at, len))
    };
    let source = place(exec.source.as_bytes())?;
    let input = place(exec.input.as_bytes())?;
    let run = instance.get_typed_func::<(u32, u32, u32, u32, i64, u32), ()>(&mut *store, "curio_run")?;
    run.call(store, (source.0, source.1, input.0, input.1, exec.seed as i64, repr_cap))
}

/// The guest's exported memory, as an import sees it.
fn guest_memory(caller: &mut Caller<'_, Host>) -> Result<Memory, Stop> {
    let memory = caller.get_export("memory").and_then(Extern::into_memory);
    memory.ok_or_else(|| Stop::Tampered("the guest has no memory export".into()))
}

/// `len` bytes of the guest's memory at `at`, as text. A range outside its
/// memory or bytes that are not UTF-8 break the protocol.
fn guest_text(caller: &mut Caller<'_, Host>, at: u32, len: u32) -> Result<String, Stop> {
    let memory = guest_memory(caller)?;
    let range = (at as usize)..(at as usize).saturating_add(len as usize);
    let bytes = memory
        .data(&*caller)
        .get(range)
        .ok_or_else(|| Stop::Tampered(format!("text at {at}+{len} lies outside the guest's memory")))?;
    String::from_utf8(bytes.to_vec()).map_err(|_| Stop::Tampered("text that is not UTF-8".into()))
}

fn link_host(linker: &mut Linker<Host>) -> wasmtime::Result<()> {
    linker.func_wrap("curio", "emit", |mut caller: Caller<'_, Host>, at: u32, len: u32| -> wasmtime::Result<i32> {
        let event = guest_text(&mut caller, at, len)?;
        Ok(i32::from(caller.data_mut().record(&event)?))
    })?;
    linker.func_wrap("curio", "output", |mut caller: Caller<'_, Host>, at: u32, len: u32| -> wasmtime::Result<()> {
        let text = guest_text(&mut caller, at, len)?;
        Ok(caller.data_mut().push_stdout(&text)?)
    })?;
    linker.func_wrap("curio", "finish", |mut caller: Caller<'_, Host>, at: u32, len: u32| -> wasmtime::Result<()> {
        let summary = guest_text(&mut caller, at, len)?;
        let host = caller.data_mut();
        if host.summary.is_some() {
            return Err(Stop::Tampered("a second summary".into()).into());
        }
        host.summary = Some(summary);
        Ok(())
    })?;
    Ok(())
}

/// Writes `value` (little-endian) at the guest's `at`.
fn write_guest(caller: &mut Caller<'_, Host>, at: u32, value: &[u8]) -> Result<(), Stop> {
    guest_memory(caller)?
        .write(&mut *caller, at as usize, value)
        .map_err(|_| Stop::Tampered(format!("a WASI result at {at} lies outside the guest's memory")))
}

/// The WASI calls the module imports: a virtual clock, an empty environment,
/// no descriptors, and "not capable" for everything else. `proc_exit` ends the run as
/// tampered: nothing a program can reach calls it.
fn link_wasi(linker: &mut Linker<Host>, module: &Module) -> wasmtime::Result<()> {
    for import in module.imports().filter(|i| i.module() == WASI) {
        let name = import.name();
        match name {
            "clock_time_get" => {
                linker.func_wrap(
                    WASI,
                    name,
                    |mut caller: Caller<'_, Host>, id: u32, _precision: u64, at: u32| -> wasmtime::Result<i32> {
                        let now = caller.data().read_clock(id == 0);
                        write_guest(&mut caller, at, &now.to_le_bytes())?;
                        Ok(ERRNO_SUCCESS)
                    },
                )?;
            }
            "environ_sizes_get" | "args_sizes_get" => {
                linker.func_wrap(
                    WASI,
                    name,
                    |mut caller: Caller<'_, Host>, count: u32, size: u32| -> wasmtime::Result<i32> {
                        write_guest(&mut caller, count, &0u32.to_le_bytes())?;
                        write_guest(&mut caller, size, &0u32.to_le_bytes())?;
                        Ok(ERRNO_SUCCESS)
                    },
                )?;
            }
            "environ_get" | "args_get" => {
                linker.func_wrap(WASI, name, |_: u32, _: u32| ERRNO_SUCCESS)?;
            }
            "proc_exit" => {
                linker.func_wrap(WASI, name, |code: u32| -> wasmtime::Result<()> {
                    Err(Stop::Tampered(format!("the guest called exit ({code})")).into())
                })?;
            }
            _ => {
                let Some(ty) = import.ty().func().cloned() else { continue };
                let refused = ty.results().len() == 1 && matches!(ty.results().next(), Some(ValType::I32));
                let errno =
                    if name.starts_with("fd_") || name.starts_with("path_") { ERRNO_BADF } else { ERRNO_NOTCAPABLE };
                linker.func_new(WASI, name, ty, move |_, _, results| {
                    if refused {
                        results[0] = Val::I32(errno);
                        return Ok(());
                    }
                    wasmtime::bail!("an unexpected WASI import")
                })?;
            }
        }
    }
    Ok(())
}
