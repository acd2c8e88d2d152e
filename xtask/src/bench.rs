//! (being written)

pub fn main(_args: &[String]) -> Result<(), String> {
    Err("not written yet".into())
}
