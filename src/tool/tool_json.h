/*
 * tool_json.h - JSON text the tool writes itself: strings escaped as
 * Python's json.dumps escapes them, and the repair of cJSON's output for
 * names that are not UTF-8.
 *
 * File names on Linux are bytes; JSON strings are Unicode.  A name that is
 * not valid UTF-8 is written with each byte that is not part of a valid
 * UTF-8 sequence as the escape \udcXX (XX its value, 80 to ff): the lone
 * low surrogate U+DC00+XX, as Python's "surrogateescape" error handler
 * (os.fsdecode) decodes such a byte.  A consumer gets the exact bytes
 * back: in Python, os.fsencode(json.loads(line)["input"]).  Valid UTF-8 is
 * never changed, and valid UTF-8 never decodes to a lone surrogate, so
 * the mapping is one to one.
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
 * U+FFFF); bytes that are not UTF-8 as \udcXX (above). */
void tool_json_string(tool_text *t, const char *s);

/* JSON text (cJSON's output, UTF-8 passed through as is) with every byte
 * that is not part of a valid UTF-8 sequence replaced by \udcXX.  Such
 * bytes can only be inside strings, where the escape is valid.  malloc'd;
 * NULL on out of memory. */
char *tool_json_fix_utf8(const char *json);

#endif /* TOOL_JSON_H */
