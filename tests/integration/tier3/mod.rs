//! Tier 3: the first tutorial reproduced by the real binary, compared with
//! the golden texts of tests/golden.

mod tutorial;
