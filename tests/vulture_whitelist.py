"""Names the dead-code check (vulture, run by scripts/test) cannot see being used.

Vulture reads src/ alone and reports any name that nothing there uses; each
name below is used from outside that view.  This file is never executed:
it only mentions the names (``_`` stands for "some object").  Delete an
entry with the code it stands for.
"""

# Settings read by the standard library rather than by our code.
_.maxstring  # reprlib.Repr options (src/umoci/apiargs.py)
_.maxother
_.whitespace_split  # a shlex.shlex option (src/umoci/cli/completion.py)
strict  # json.JSONDecoder's settings, read by _json.make_scanner (src/umoci/jsontext.py)
object_hook
object_pairs_hook
parse_float
parse_int
parse_constant
memo

# A protocol method the io machinery calls.
_.readable  # io.RawIOBase (src/umoci/cas/verify.py), for io.BufferedReader

# Parameters a fixed signature requires.
tb  # __exit__(exc_type, exc, tb) (compress/_writer.py, layer/tarwrite.py)
signum  # a signal handler's (signum, frame) (src/umoci/pprof.py)

# Module __getattr__ and __dir__ (PEP 562): lazy attributes of umoci (the
# API's names), umoci.ops, umoci.runtime and umoci.validate, called by the
# import system and by dir().
__getattr__
__dir__

# Entry points named in code that runs in another interpreter.
child_main  # the layer producer process's main (its -c boot line, umoci/ops/layer_process.py)

# Interface used by the tests only; kept because it is a documented part of its class or module.
_.bytes_read  # HashingReader's byte count (tests/compress/test_compress_codecs.py)
_.is_digest  # ImageRef.is_digest (tests/core/test_platforms.py)
apply_layer  # umoci.layer.extract's one-layer entry point (tests/layer/)
_.from_stat  # FileInfo.from_stat, the facts spec_from_infos takes (tests/mtree/)

# The public Python API (umoci.api): called by build tools, and by tests/copy/.
_.import_image  # Layout.import_image
_.export  # Image.export
