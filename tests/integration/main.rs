//! Every integration test in one binary (tests/README.md lists what each
//! file proves). One binary links the product once instead of once per test
//! file; a tier or a file is picked by filter:
//! `cargo test --test integration tier2`, `... tier4::system_failover`.
//!
//! * `architecture`: the layers of src/ and no import circle, read from
//!   the sources (docs/architecture.md);
//! * `tier2`: the real binary against fake tools (`common`), any user;
//! * `tier3`: the first tutorial's golden texts (`common`, `../golden/`);
//! * `tier4`: real kernel objects in the namespace lab (`lab`), as root;
//!   each test skips loudly otherwise (`lab_test!`).
//!
//! The chaos suite (tests/chaos/) stays its own binary: it has its own
//! main and runs only when asked.

mod architecture;
mod common;
mod lab;

mod tier2;
mod tier3;
mod tier4;
