// builtin open(): host files over semihosting (SYS_OPEN/READ/WRITE/SEEK/FLEN/CLOSE), as io.FileIO (binary)
// or io.TextIOWrapper (text) stream objects with read/readinto/readline/write/seek/tell/flush/close and
// `with` support. Paths are host paths (relative ones to QEMU's working directory).
#include <string.h>

#include "py/builtin.h"
#include "py/mperrno.h"
#include "py/runtime.h"
#include "py/stream.h"
#include "semihost.h"

typedef struct _file_obj_t {
    mp_obj_base_t base;
    int fd;
    mp_off_t pos;
} file_obj_t;

static mp_uint_t file_read(mp_obj_t self_in, void *buf, mp_uint_t size, int *errcode) {
    file_obj_t *self = MP_OBJ_TO_PTR(self_in);
    if (self->fd < 0) {
        *errcode = MP_EBADF;
        return MP_STREAM_ERROR;
    }
    int n = sh_read(self->fd, buf, size);
    if (n < 0) {
        *errcode = MP_EIO;
        return MP_STREAM_ERROR;
    }
    self->pos += n;
    return n;
}

static mp_uint_t file_write(mp_obj_t self_in, const void *buf, mp_uint_t size, int *errcode) {
    file_obj_t *self = MP_OBJ_TO_PTR(self_in);
    if (self->fd < 0) {
        *errcode = MP_EBADF;
        return MP_STREAM_ERROR;
    }
    int n = sh_write(self->fd, buf, size);
    if (n < 0) {
        *errcode = MP_EIO;
        return MP_STREAM_ERROR;
    }
    self->pos += n;
    return n;
}

static mp_uint_t file_ioctl(mp_obj_t self_in, mp_uint_t request, uintptr_t arg, int *errcode) {
    file_obj_t *self = MP_OBJ_TO_PTR(self_in);
    if (request == MP_STREAM_CLOSE) {
        if (self->fd >= 0) {
            sh_close(self->fd);
            self->fd = -1;
        }
        return 0;
    }
    if (self->fd < 0) {
        *errcode = MP_EBADF;
        return MP_STREAM_ERROR;
    }
    if (request == MP_STREAM_FLUSH) {
        return 0;
    }
    if (request == MP_STREAM_SEEK) {
        struct mp_stream_seek_t *s = (struct mp_stream_seek_t *)arg;
        mp_off_t target = s->offset;
        if (s->whence == MP_SEEK_CUR) {
            target += self->pos;
        } else if (s->whence == MP_SEEK_END) {
            target += sh_flen(self->fd);
        }
        if (target < 0 || sh_seek(self->fd, target) != 0) {
            *errcode = MP_EINVAL;
            return MP_STREAM_ERROR;
        }
        self->pos = target;
        s->offset = target;
        return 0;
    }
    *errcode = MP_EINVAL;
    return MP_STREAM_ERROR;
}

static void file_print(const mp_print_t *print, mp_obj_t self_in, mp_print_kind_t kind) {
    (void)kind;
    file_obj_t *self = MP_OBJ_TO_PTR(self_in);
    mp_printf(print, "<io.%s %d>", qstr_str(((mp_obj_base_t *)self)->type->name), self->fd);
}

static const mp_rom_map_elem_t file_locals_dict_table[] = {
    { MP_ROM_QSTR(MP_QSTR_read), MP_ROM_PTR(&mp_stream_read_obj) },
    { MP_ROM_QSTR(MP_QSTR_readinto), MP_ROM_PTR(&mp_stream_readinto_obj) },
    { MP_ROM_QSTR(MP_QSTR_readline), MP_ROM_PTR(&mp_stream_unbuffered_readline_obj) },
    { MP_ROM_QSTR(MP_QSTR_readlines), MP_ROM_PTR(&mp_stream_unbuffered_readlines_obj) },
    { MP_ROM_QSTR(MP_QSTR_write), MP_ROM_PTR(&mp_stream_write_obj) },
    { MP_ROM_QSTR(MP_QSTR_seek), MP_ROM_PTR(&mp_stream_seek_obj) },
    { MP_ROM_QSTR(MP_QSTR_tell), MP_ROM_PTR(&mp_stream_tell_obj) },
    { MP_ROM_QSTR(MP_QSTR_flush), MP_ROM_PTR(&mp_stream_flush_obj) },
    { MP_ROM_QSTR(MP_QSTR_close), MP_ROM_PTR(&mp_stream_close_obj) },
    { MP_ROM_QSTR(MP_QSTR___enter__), MP_ROM_PTR(&mp_identity_obj) },
    { MP_ROM_QSTR(MP_QSTR___exit__), MP_ROM_PTR(&mp_stream___exit___obj) },
};
static MP_DEFINE_CONST_DICT(file_locals_dict, file_locals_dict_table);

static const mp_stream_p_t fileio_stream_p = {
    .read = file_read,
    .write = file_write,
    .ioctl = file_ioctl,
};

static const mp_stream_p_t textio_stream_p = {
    .read = file_read,
    .write = file_write,
    .ioctl = file_ioctl,
    .is_text = true,
};

MP_DEFINE_CONST_OBJ_TYPE(
    mp_type_port_fileio,
    MP_QSTR_FileIO,
    MP_TYPE_FLAG_ITER_IS_STREAM,
    print, file_print,
    protocol, &fileio_stream_p,
    locals_dict, &file_locals_dict
    );

MP_DEFINE_CONST_OBJ_TYPE(
    mp_type_port_textio,
    MP_QSTR_TextIOWrapper,
    MP_TYPE_FLAG_ITER_IS_STREAM,
    print, file_print,
    protocol, &textio_stream_p,
    locals_dict, &file_locals_dict
    );

mp_obj_t mp_builtin_open(size_t n_args, const mp_obj_t *args, mp_map_t *kwargs) {
    (void)kwargs;
    const char *path = mp_obj_str_get_str(args[0]);
    const char *mode_str = n_args > 1 ? mp_obj_str_get_str(args[1]) : "r";
    int mode = -1;
    bool binary = false;
    bool plus = false;
    for (const char *m = mode_str; *m; m++) {
        switch (*m) {
            case 'r': mode = SH_MODE_R; break;
            case 'w': mode = SH_MODE_W; break;
            case 'a': mode = SH_MODE_A; break;
            case 'b': binary = true; break;
            case 't': binary = false; break;
            case '+': plus = true; break;
            default: mode = -2; break;
        }
        if (mode == -2) {
            break;
        }
    }
    if (mode < 0) {
        mp_raise_ValueError(MP_ERROR_TEXT("invalid mode"));
    }
    mode += (binary ? 1 : 0) + (plus ? 2 : 0);
    int fd = sh_open(path, mode);
    if (fd < 0) {
        mp_raise_OSError_with_filename(mode < SH_MODE_W ? MP_ENOENT : MP_EACCES, path);
    }
    file_obj_t *o = mp_obj_malloc(file_obj_t, binary ? &mp_type_port_fileio : &mp_type_port_textio);
    o->fd = fd;
    o->pos = 0;
    if (mode >= SH_MODE_A) {
        int len = sh_flen(fd);
        o->pos = len > 0 ? len : 0;
    }
    return MP_OBJ_FROM_PTR(o);
}
MP_DEFINE_CONST_FUN_OBJ_KW(mp_builtin_open_obj, 1, mp_builtin_open);
