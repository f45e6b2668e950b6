/*
 * tool_json.h - JSON text the tool writes itself: strings escaped as
 * Python's json.dumps escapes them, and names that are not UTF-8.
 *
 * File names on Linux are bytes; JSON strings are Unicode text.  In a
 * JSON line, every byte that is not part of a valid UTF-8 sequence (RFC
 * 3629) is written as U+FFFD, the replacement character, so that the line
 * is valid UTF-8 and valid JSON for every parser; and a name that needed
 * it gets a second key, NAME_hex ("input_hex", "output_hex", "file_hex"),
 * with its exact bytes in lower-case hex, from which a consumer recovers
 * the name (Python: bytes.fromhex(d["input_hex"])).  Escaping the bytes as
 * lone surrogates (\udcXX, Python's surrogateescape) was tried and
 * rejected: strict parsers (cJSON, serde_json) refuse such strings.
 */
#ifndef TOOL_JSON_H
#define TOOL_JSON_H

#include <stddef.h>

/* A growing NUL-terminated string; oom is set (and text kept as it was)
 * when memory runs out. */
typedef struct tool_text {
    char *s;
    size_t len, cap;
    int oom;
} tool_text;

void tool_text_put(tool_text *t, const char *s, size_t n);
void tool_text_puts(tool_text *t, const char *s);
void tool_text_free(tool_text *t);

/* s as a JSON string literal, quotes included, as Python's json.dumps
 * writes it with ensure_ascii (the default): '"' '\\' and \b \f \n \r \t
 * by their short escapes, every other byte outside ' '..'~' as \u00XX
 * (ASCII) or its code point \uXXXX (lower-case hex; a surrogate pair above
 * U+FFFF); bytes that are not UTF-8 as \ufffd (above). */
void tool_json_string(tool_text *t, const char *s);

/* JSON text (cJSON's output, UTF-8 passed through as is) with every byte
 * that is not part of a valid UTF-8 sequence replaced by U+FFFD (such
 * bytes can only be inside strings).  malloc'd; NULL on out of memory. */
char *tool_json_fix_utf8(const char *json);

/* 1 when s is valid UTF-8. */
int tool_json_is_utf8(const char *s);

/* The bytes of s in lower-case hex; malloc'd, NULL on out of memory. */
char *tool_json_hex(const char *s);

#endif /* TOOL_JSON_H */
