// json: loads(str|bytes), dumps(obj), load(stream), dump(obj, stream). The py/ core prints JSON (PRINT_JSON,
// MICROPY_PY_JSON); the parser is this file's own (the kit has no extmod/modjson.c).
#include <string.h>

#include "py/objstr.h"
#include "py/parsenum.h"
#include "py/runtime.h"
#include "py/stream.h"

typedef struct {
    const char *p;
    const char *end;
} json_src_t;

static NORETURN void json_fail(void) {
    mp_raise_ValueError(MP_ERROR_TEXT("syntax error in JSON"));
}

static void skip_ws(json_src_t *s) {
    while (s->p < s->end && (*s->p == ' ' || *s->p == '\t' || *s->p == '\n' || *s->p == '\r')) {
        s->p++;
    }
}

static bool take(json_src_t *s, const char *word) {
    size_t n = strlen(word);
    if ((size_t)(s->end - s->p) >= n && memcmp(s->p, word, n) == 0) {
        s->p += n;
        return true;
    }
    return false;
}

static int hexval(json_src_t *s) {
    int v = 0;
    for (int i = 0; i < 4; i++) {
        if (s->p >= s->end) {
            json_fail();
        }
        int c = *s->p++;
        v <<= 4;
        if (c >= '0' && c <= '9') {
            v |= c - '0';
        } else if ((c | 0x20) >= 'a' && (c | 0x20) <= 'f') {
            v |= (c | 0x20) - 'a' + 10;
        } else {
            json_fail();
        }
    }
    return v;
}

static mp_obj_t parse_string(json_src_t *s) {
    s->p++;     // the opening quote
    vstr_t vstr;
    vstr_init(&vstr, 16);
    for (;;) {
        if (s->p >= s->end) {
            json_fail();
        }
        char c = *s->p++;
        if (c == '"') {
            break;
        }
        if (c != '\\') {
            vstr_add_byte(&vstr, c);
            continue;
        }
        if (s->p >= s->end) {
            json_fail();
        }
        c = *s->p++;
        switch (c) {
            case 'b': c = '\b'; break;
            case 'f': c = '\f'; break;
            case 'n': c = '\n'; break;
            case 'r': c = '\r'; break;
            case 't': c = '\t'; break;
            case '"': case '\\': case '/': break;
            case 'u': {
                int u = hexval(s);
                if (u >= 0xd800 && u < 0xdc00 && take(s, "\\u")) {
                    int lo = hexval(s);
                    u = 0x10000 + ((u - 0xd800) << 10) + (lo - 0xdc00);
                }
                vstr_add_char(&vstr, u);
                continue;
            }
            default:
                json_fail();
        }
        vstr_add_byte(&vstr, c);
    }
    return mp_obj_new_str_from_utf8_vstr(&vstr);
}

static mp_obj_t parse_value(json_src_t *s) {
    skip_ws(s);
    if (s->p >= s->end) {
        json_fail();
    }
    char c = *s->p;
    if (c == '{') {
        s->p++;
        mp_obj_t dict = mp_obj_new_dict(0);
        skip_ws(s);
        if (s->p < s->end && *s->p == '}') {
            s->p++;
            return dict;
        }
        for (;;) {
            skip_ws(s);
            if (s->p >= s->end || *s->p != '"') {
                json_fail();
            }
            mp_obj_t key = parse_string(s);
            skip_ws(s);
            if (s->p >= s->end || *s->p++ != ':') {
                json_fail();
            }
            mp_obj_dict_store(dict, key, parse_value(s));
            skip_ws(s);
            if (s->p >= s->end) {
                json_fail();
            }
            c = *s->p++;
            if (c == '}') {
                return dict;
            }
            if (c != ',') {
                json_fail();
            }
        }
    }
    if (c == '[') {
        s->p++;
        mp_obj_t list = mp_obj_new_list(0, NULL);
        skip_ws(s);
        if (s->p < s->end && *s->p == ']') {
            s->p++;
            return list;
        }
        for (;;) {
            mp_obj_list_append(list, parse_value(s));
            skip_ws(s);
            if (s->p >= s->end) {
                json_fail();
            }
            c = *s->p++;
            if (c == ']') {
                return list;
            }
            if (c != ',') {
                json_fail();
            }
        }
    }
    if (c == '"') {
        return parse_string(s);
    }
    if (take(s, "true")) {
        return mp_const_true;
    }
    if (take(s, "false")) {
        return mp_const_false;
    }
    if (take(s, "null")) {
        return mp_const_none;
    }
    const char *start = s->p;
    bool is_float = false;
    if (s->p < s->end && *s->p == '-') {
        s->p++;
    }
    while (s->p < s->end) {
        c = *s->p;
        if (c >= '0' && c <= '9') {
            s->p++;
        } else if (c == '.' || c == 'e' || c == 'E' || ((c == '+' || c == '-') && (s->p[-1] | 0x20) == 'e')) {
            is_float = true;
            s->p++;
        } else {
            break;
        }
    }
    if (s->p == start || (s->p == start + 1 && *start == '-')) {
        json_fail();
    }
    if (is_float) {
        #if MICROPY_PY_BUILTINS_FLOAT
        return mp_parse_num_float(start, s->p - start, false, NULL);
        #else
        mp_raise_ValueError(MP_ERROR_TEXT("JSON float: this port has no floats"));
        #endif
    }
    return mp_parse_num_integer(start, s->p - start, 10, NULL);
}

static mp_obj_t json_loads(mp_obj_t text) {
    mp_buffer_info_t bufinfo;
    mp_get_buffer_raise(text, &bufinfo, MP_BUFFER_READ);
    json_src_t s = {bufinfo.buf, (const char *)bufinfo.buf + bufinfo.len};
    mp_obj_t value = parse_value(&s);
    skip_ws(&s);
    if (s.p != s.end) {
        json_fail();
    }
    return value;
}
static MP_DEFINE_CONST_FUN_OBJ_1(json_loads_obj, json_loads);

static mp_obj_t json_load(mp_obj_t stream) {
    mp_obj_t read = mp_load_attr(stream, MP_QSTR_read);
    return json_loads(mp_call_function_0(read));
}
static MP_DEFINE_CONST_FUN_OBJ_1(json_load_obj, json_load);

static mp_obj_t json_dumps(mp_obj_t obj) {
    vstr_t vstr;
    mp_print_t print;
    vstr_init_print(&vstr, 16, &print);
    mp_obj_print_helper(&print, obj, PRINT_JSON);
    return mp_obj_new_str_from_utf8_vstr(&vstr);
}
static MP_DEFINE_CONST_FUN_OBJ_1(json_dumps_obj, json_dumps);

static mp_obj_t json_dump(mp_obj_t obj, mp_obj_t stream) {
    mp_obj_t write = mp_load_attr(stream, MP_QSTR_write);
    mp_call_function_1(write, json_dumps(obj));
    return mp_const_none;
}
static MP_DEFINE_CONST_FUN_OBJ_2(json_dump_obj, json_dump);

static const mp_rom_map_elem_t json_module_globals_table[] = {
    { MP_ROM_QSTR(MP_QSTR___name__), MP_ROM_QSTR(MP_QSTR_json) },
    { MP_ROM_QSTR(MP_QSTR_loads), MP_ROM_PTR(&json_loads_obj) },
    { MP_ROM_QSTR(MP_QSTR_load), MP_ROM_PTR(&json_load_obj) },
    { MP_ROM_QSTR(MP_QSTR_dumps), MP_ROM_PTR(&json_dumps_obj) },
    { MP_ROM_QSTR(MP_QSTR_dump), MP_ROM_PTR(&json_dump_obj) },
};
static MP_DEFINE_CONST_DICT(json_module_globals, json_module_globals_table);

const mp_obj_module_t mp_module_port_json = {
    .base = { &mp_type_module },
    .globals = (mp_obj_dict_t *)&json_module_globals,
};
MP_REGISTER_MODULE(MP_QSTR_json, mp_module_port_json);
