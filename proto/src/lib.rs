//! Curio's wire format: the `curio.v1` protobuf package, generated at build
//! time with tonic/prost. This crate owns the schema and nothing else: no
//! validation, no conversions (those live with the services that own the
//! types), so every service and client agrees on one definition.

pub mod codec;

/// `curio.v1`: the interpreter pool and learner APIs.
pub mod v1 {
    tonic::include_proto!("curio.v1");
}

/// Encoded `FileDescriptorSet` of every Curio proto, for gRPC reflection.
pub const FILE_DESCRIPTOR_SET: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/curio_descriptor.bin"));
