#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    curio_interpreter_pool::fuzz::execution_request(data);
});
