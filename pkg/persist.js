// persist() (SPEC §4) is implemented with the multi-tab work; this module
// reports that clearly rather than pretending to save.
export async function persist() {
  throw new Error("slotkv: persist() is not available in this build yet");
}
