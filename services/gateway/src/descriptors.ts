import {
  createFileRegistry,
  type DescEnum,
  type DescEnumValue,
  type DescField,
  type DescFile,
  type DescMessage,
  type DescMethod,
  type DescService,
  type FileRegistry,
  fromBinary,
} from "@bufbuild/protobuf";
import { FileDescriptorSetSchema } from "@bufbuild/protobuf/wkt";

/** A compiled FileDescriptorSet (`buf build -o`) turned into a protobuf-es registry. */
export function registryFromDescriptorSet(bytes: Uint8Array): FileRegistry {
  return createFileRegistry(fromBinary(FileDescriptorSetSchema, bytes));
}

type Commented = DescMessage | DescField | DescEnum | DescEnumValue | DescService | DescMethod;

const commentCache = new WeakMap<DescFile, Map<string, string>>();

function commentsOf(file: DescFile): Map<string, string> {
  let comments = commentCache.get(file);
  if (!comments) {
    comments = new Map();
    for (const location of file.proto.sourceCodeInfo?.location ?? []) {
      const text = location.leadingComments ?? "";
      if (text.trim() !== "") comments.set(location.path.join(","), tidyComment(text));
    }
    commentCache.set(file, comments);
  }
  return comments;
}

/** Comment lines with their single leading space removed, joined back into a paragraph-preserving text. */
function tidyComment(text: string): string {
  return text
    .split("\n")
    .map((line) => line.replace(/^ /, "").trimEnd())
    .join("\n")
    .trim();
}

/** The source path of a descriptor inside its file (descriptor.proto field numbers and indexes). */
function sourcePath(desc: Commented): number[] {
  switch (desc.kind) {
    case "message": {
      if (desc.parent) {
        return [...sourcePath(desc.parent), 3, desc.parent.proto.nestedType.indexOf(desc.proto)];
      }
      return [4, desc.file.proto.messageType.indexOf(desc.proto)];
    }
    case "enum": {
      if (desc.parent) return [...sourcePath(desc.parent), 4, desc.parent.proto.enumType.indexOf(desc.proto)];
      return [5, desc.file.proto.enumType.indexOf(desc.proto)];
    }
    case "enum_value":
      return [...sourcePath(desc.parent), 2, desc.parent.proto.value.indexOf(desc.proto)];
    case "field":
      return [...sourcePath(desc.parent), 2, desc.parent.proto.field.indexOf(desc.proto)];
    case "service":
      return [6, desc.file.proto.service.indexOf(desc.proto)];
    case "rpc":
      return [...sourcePath(desc.parent), 2, desc.parent.proto.method.indexOf(desc.proto)];
  }
}

function fileOf(desc: Commented): DescFile {
  switch (desc.kind) {
    case "enum_value":
      return desc.parent.file;
    case "field":
    case "rpc":
      return desc.parent.file;
    default:
      return desc.file;
  }
}

/**
 * The leading comment of a descriptor in its .proto file ("" when none). The descriptor set must be
 * built with source info, as `buf build` does by default.
 */
export function leadingComment(desc: Commented): string {
  return commentsOf(fileOf(desc)).get(sourcePath(desc).join(",")) ?? "";
}

/** The first sentence of a comment (across line breaks), for one-line summaries. */
export function firstSentence(comment: string): string {
  const paragraph = (comment.split("\n\n")[0] ?? "").replace(/\s*\n\s*/g, " ").trim();
  const end = paragraph.search(/\.(\s|$)/);
  return end < 0 ? paragraph : paragraph.slice(0, end + 1);
}
