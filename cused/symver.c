/* SPDX-License-Identifier: MIT */
/*
 * The versioned entry points of libfuse3 whose default name changed over
 * time.  A driver built against libfuse 3.14's headers binds to one of:
 *   fuse_session_loop_mt@FUSE_3.0   (clone_fd int)        -> _31
 *   fuse_session_loop_mt@FUSE_3.2   (fuse_loop_config_v1) -> _32
 *   fuse_session_loop_mt@@FUSE_3.12 (opaque config)       -> _312
 *   fuse_parse_cmdline@FUSE_3.0 -> _30, fuse_parse_cmdline@@FUSE_3.12 -> _312
 * plus the suffixed names themselves.
 */
#include "cused_i.h"

int cused_loop_mt_312(struct fuse_session *se, struct fuse_loop_config *config);
int cused_loop_mt_32(struct fuse_session *se, struct fuse_loop_config_v1 *config);
int cused_loop_mt_31(struct fuse_session *se, int clone_fd);

#define ALIAS(ret, name, args, call)                                                               \
	CUSED_EXPORT ret name args;                                                                \
	CUSED_EXPORT ret name args                                                                 \
	{                                                                                          \
		return call;                                                                       \
	}

ALIAS(int, fuse_session_loop_mt_31, (struct fuse_session * se, int clone_fd),
      cused_loop_mt_31(se, clone_fd))
ALIAS(int, fuse_session_loop_mt_32, (struct fuse_session * se, struct fuse_loop_config_v1 *c),
      cused_loop_mt_32(se, c))
ALIAS(int, fuse_session_loop_mt_312, (struct fuse_session * se, struct fuse_loop_config *c),
      cused_loop_mt_312(se, c))

__attribute__((symver("fuse_session_loop_mt@FUSE_3.0"))) CUSED_EXPORT int
cused_sym_loop_mt_30(struct fuse_session *se, int clone_fd);
int cused_sym_loop_mt_30(struct fuse_session *se, int clone_fd)
{
	return cused_loop_mt_31(se, clone_fd);
}

__attribute__((symver("fuse_session_loop_mt@FUSE_3.2"))) CUSED_EXPORT int
cused_sym_loop_mt_32(struct fuse_session *se, struct fuse_loop_config_v1 *c);
int cused_sym_loop_mt_32(struct fuse_session *se, struct fuse_loop_config_v1 *c)
{
	return cused_loop_mt_32(se, c);
}

__attribute__((symver("fuse_session_loop_mt@@FUSE_3.12"))) CUSED_EXPORT int
cused_sym_loop_mt_312(struct fuse_session *se, struct fuse_loop_config *c);
int cused_sym_loop_mt_312(struct fuse_session *se, struct fuse_loop_config *c)
{
	return cused_loop_mt_312(se, c);
}

__attribute__((symver("fuse_parse_cmdline@FUSE_3.0"))) CUSED_EXPORT int
cused_sym_parse_cmdline_30(struct fuse_args *args, struct fuse_cmdline_opts *opts);
int cused_sym_parse_cmdline_30(struct fuse_args *args, struct fuse_cmdline_opts *opts)
{
	return cused_parse_cmdline_30(args, opts);
}

__attribute__((symver("fuse_parse_cmdline@@FUSE_3.12"))) CUSED_EXPORT int
cused_sym_parse_cmdline_312(struct fuse_args *args, struct fuse_cmdline_opts *opts);
int cused_sym_parse_cmdline_312(struct fuse_args *args, struct fuse_cmdline_opts *opts)
{
	return cused_parse_cmdline_312(args, opts);
}
