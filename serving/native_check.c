/*
 * native_check: run one signature of a SavedModel through TensorFlow's native
 * loader (TF_LoadSessionFromSavedModel, the loader TF Serving uses), with no
 * Python in the process. Used by tests/test_export.py to prove an export
 * serves; also handy to smoke-test an export on a machine without TF Serving.
 *
 * Usage:
 *   native_check EXPORT_DIR OUT_FILE ARG...
 *     ARG = feed:TENSOR=DTYPE:DIMS:RAW_FILE   e.g. feed:serving_default_z:0=float:4x8:/tmp/z.bin
 *         | fetch:TENSOR                      e.g. fetch:StatefulPartitionedCall:0
 *   DTYPE is float, double, int32, int64, uint8 or string; DIMS is "4x8" (or
 *   "" for a scalar); RAW_FILE holds the values in native byte order, or for
 *   string, (int64 length, bytes) per element, as string outputs are written.
 *
 * OUT_FILE gets, for each fetch in order: int32 dtype (TF_DataType), int32
 * rank, int64 dims[rank], int64 byte count, then the data. String tensors
 * are written as (int64 length, bytes) per element.
 * On a TensorFlow error it prints "TF_ERROR <code> <message>" to stderr and
 * exits with 3; on a usage error it exits with 2.
 *
 * Build (see tests/test_export.py):
 *   gcc native_check.c -I$TF/include -L$TF -l:libtensorflow_cc.so.2 \
 *       -l:libtensorflow_framework.so.2 -Wl,-rpath,$TF -o native_check
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tensorflow/c/c_api.h"
#include "tensorflow/c/tf_tstring.h"

#define MAX_IO 16

static void die_usage(const char *msg, const char *arg) {
  fprintf(stderr, "native_check: %s%s%s\n", msg, arg ? ": " : "", arg ? arg : "");
  exit(2);
}

static void check_status(TF_Status *s, const char *what) {
  if (TF_GetCode(s) != TF_OK) {
    fprintf(stderr, "TF_ERROR %d %s: %s\n", (int)TF_GetCode(s), what, TF_Message(s));
    exit(3);
  }
}

/* "op_name:index" -> TF_Output; the op name itself may not contain ':'. */
static TF_Output find_output(TF_Graph *graph, const char *tensor_name) {
  char name[512];
  const char *colon = strrchr(tensor_name, ':');
  int index = 0;
  size_t len = colon ? (size_t)(colon - tensor_name) : strlen(tensor_name);
  if (len >= sizeof(name)) die_usage("tensor name too long", tensor_name);
  memcpy(name, tensor_name, len);
  name[len] = '\0';
  if (colon) index = atoi(colon + 1);
  TF_Operation *op = TF_GraphOperationByName(graph, name);
  if (op == NULL) die_usage("no such operation in the graph", name);
  TF_Output out = {op, index};
  return out;
}

static TF_DataType parse_dtype(const char *s, size_t *elem_size) {
  if (strcmp(s, "float") == 0) { *elem_size = 4; return TF_FLOAT; }
  if (strcmp(s, "double") == 0) { *elem_size = 8; return TF_DOUBLE; }
  if (strcmp(s, "int32") == 0) { *elem_size = 4; return TF_INT32; }
  if (strcmp(s, "int64") == 0) { *elem_size = 8; return TF_INT64; }
  if (strcmp(s, "uint8") == 0) { *elem_size = 1; return TF_UINT8; }
  die_usage("unsupported dtype", s);
  return TF_FLOAT;
}

/* Builds a tensor from "DTYPE:DIMS:RAW_FILE". */
static TF_Tensor *read_feed(char *spec) {
  char *dtype_s = spec;
  char *dims_s = strchr(dtype_s, ':');
  if (dims_s == NULL) die_usage("feed needs DTYPE:DIMS:FILE", spec);
  *dims_s++ = '\0';
  char *path = strchr(dims_s, ':');
  if (path == NULL) die_usage("feed needs DTYPE:DIMS:FILE", spec);
  *path++ = '\0';

  int is_string = strcmp(dtype_s, "string") == 0;
  size_t elem_size = sizeof(TF_TString);
  TF_DataType dtype = is_string ? TF_STRING : parse_dtype(dtype_s, &elem_size);
  int64_t dims[8];
  int rank = 0;
  size_t count = 1;
  for (char *tok = strtok(dims_s, "x"); tok != NULL; tok = strtok(NULL, "x")) {
    if (rank == 8) die_usage("too many dims", dims_s);
    dims[rank] = atoll(tok);
    count *= (size_t)dims[rank];
    rank++;
  }
  size_t nbytes = count * elem_size;
  TF_Tensor *t = TF_AllocateTensor(dtype, dims, rank, nbytes);
  FILE *f = fopen(path, "rb");
  if (f == NULL) die_usage("cannot open", path);
  if (is_string) {
    TF_TString *strings = (TF_TString *)TF_TensorData(t);
    for (size_t i = 0; i < count; i++) {
      int64_t len;
      if (fread(&len, sizeof len, 1, f) != 1 || len < 0) die_usage("bad string length", path);
      char *buf = malloc(len > 0 ? (size_t)len : 1);
      if (len > 0 && fread(buf, 1, (size_t)len, f) != (size_t)len) {
        die_usage("file is shorter than its string lengths say", path);
      }
      TF_StringInit(&strings[i]);
      TF_StringCopy(&strings[i], buf, (size_t)len);
      free(buf);
    }
  } else if (nbytes > 0 && fread(TF_TensorData(t), 1, nbytes, f) != nbytes) {
    die_usage("file is shorter than DIMS say", path);
  }
  fclose(f);
  return t;
}

static void write_tensor(FILE *out, const TF_Tensor *t) {
  int32_t dtype = (int32_t)TF_TensorType(t);
  int32_t rank = (int32_t)TF_NumDims(t);
  fwrite(&dtype, sizeof dtype, 1, out);
  fwrite(&rank, sizeof rank, 1, out);
  int64_t count = 1;
  for (int i = 0; i < rank; i++) {
    int64_t d = TF_Dim(t, i);
    count *= d;
    fwrite(&d, sizeof d, 1, out);
  }
  if (TF_TensorType(t) == TF_STRING) {
    const TF_TString *strings = (const TF_TString *)TF_TensorData(t);
    int64_t nbytes = 0;
    for (int64_t i = 0; i < count; i++) nbytes += 8 + (int64_t)TF_StringGetSize(&strings[i]);
    fwrite(&nbytes, sizeof nbytes, 1, out);
    for (int64_t i = 0; i < count; i++) {
      int64_t len = (int64_t)TF_StringGetSize(&strings[i]);
      fwrite(&len, sizeof len, 1, out);
      fwrite(TF_StringGetDataPointer(&strings[i]), 1, (size_t)len, out);
    }
  } else {
    int64_t nbytes = (int64_t)TF_TensorByteSize(t);
    fwrite(&nbytes, sizeof nbytes, 1, out);
    fwrite(TF_TensorData(t), 1, (size_t)nbytes, out);
  }
}

int main(int argc, char **argv) {
  if (argc < 4) die_usage("usage: native_check EXPORT_DIR OUT_FILE feed:...|fetch:...", NULL);
  const char *export_dir = argv[1];
  const char *out_path = argv[2];

  TF_Status *status = TF_NewStatus();
  TF_Graph *graph = TF_NewGraph();
  TF_SessionOptions *options = TF_NewSessionOptions();
  const char *tags[] = {"serve"};
  TF_Session *session = TF_LoadSessionFromSavedModel(options, NULL, export_dir, tags, 1,
                                                     graph, NULL, status);
  check_status(status, "TF_LoadSessionFromSavedModel");

  TF_Output inputs[MAX_IO], outputs[MAX_IO];
  TF_Tensor *input_values[MAX_IO], *output_values[MAX_IO];
  int n_in = 0, n_out = 0;
  for (int i = 3; i < argc; i++) {
    if (strncmp(argv[i], "feed:", 5) == 0) {
      if (n_in == MAX_IO) die_usage("too many feeds", NULL);
      char *name = argv[i] + 5;
      char *eq = strchr(name, '=');
      if (eq == NULL) die_usage("feed needs TENSOR=DTYPE:DIMS:FILE", argv[i]);
      *eq = '\0';
      inputs[n_in] = find_output(graph, name);
      input_values[n_in] = read_feed(eq + 1);
      n_in++;
    } else if (strncmp(argv[i], "fetch:", 6) == 0) {
      if (n_out == MAX_IO) die_usage("too many fetches", NULL);
      outputs[n_out++] = find_output(graph, argv[i] + 6);
    } else {
      die_usage("arguments are feed:... or fetch:...", argv[i]);
    }
  }

  TF_SessionRun(session, NULL, inputs, input_values, n_in, outputs, output_values, n_out,
                NULL, 0, NULL, status);
  check_status(status, "TF_SessionRun");

  FILE *out = fopen(out_path, "wb");
  if (out == NULL) die_usage("cannot write", out_path);
  for (int i = 0; i < n_out; i++) {
    write_tensor(out, output_values[i]);
    TF_DeleteTensor(output_values[i]);
  }
  fclose(out);
  for (int i = 0; i < n_in; i++) TF_DeleteTensor(input_values[i]);

  TF_CloseSession(session, status);
  TF_DeleteSession(session, status);
  TF_DeleteSessionOptions(options);
  TF_DeleteGraph(graph);
  TF_DeleteStatus(status);
  return 0;
}
