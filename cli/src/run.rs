//! (being written)
/// `kwasm run`.
pub fn main(_args: &[String]) -> std::process::ExitCode {
    std::process::ExitCode::FAILURE
}
