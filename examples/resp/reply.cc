// examples/resp/reply.cc: RESP2 encoding.
#include "examples/resp/reply.h"

#include "examples/resp/integer.h"

namespace examples::resp {

void AppendSimple(std::string_view text, std::string* out) {
  out->push_back('+');
  out->append(text);
  out->append("\r\n");
}

void AppendError(std::string_view message, std::string* out) {
  out->push_back('-');
  const size_t start = out->size();
  out->append(message);
  for (size_t i = start; i < out->size(); ++i) {
    if ((*out)[i] == '\r' || (*out)[i] == '\n') (*out)[i] = ' ';
  }
  out->append("\r\n");
}

void AppendInteger(int64_t value, std::string* out) {
  out->push_back(':');
  AppendInt64(value, out);
  out->append("\r\n");
}

void AppendBulk(std::string_view bytes, std::string* out) {
  out->push_back('$');
  AppendInt64(static_cast<int64_t>(bytes.size()), out);
  out->append("\r\n");
  out->append(bytes);
  out->append("\r\n");
}

void AppendNil(std::string* out) { out->append("$-1\r\n"); }

void AppendArrayHeader(size_t count, std::string* out) {
  out->push_back('*');
  AppendInt64(static_cast<int64_t>(count), out);
  out->append("\r\n");
}

}  // namespace examples::resp
