/**
 * @custody/proto: the generated protobuf-es message types and the subject names they use.
 * @module
 */
export { create, fromBinary, toBinary } from "@bufbuild/protobuf";
export * from "./gen/custody/v1/health_pb.js";
export * from "./gen/custody/v1/session_pb.js";
export * from "./gen/custody/v1/work_pb.js";
export * from "./limits.js";
export * from "./subjects.js";
