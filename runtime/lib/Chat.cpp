//===- Chat.cpp - The Llama 3.2 Instruct prompt format --------------------===//
#include "llamac/Runtime/Chat.h"

#include "llamac/Runtime/Runtime.h"

#include <cstdio>

namespace llamac::runtime {

namespace {
const char *const kMonths[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                               "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};

std::string header(const std::string &role) {
  return "<|start_header_id|>" + role + "<|end_header_id|>\n\n";
}
} // namespace

std::string trimWhitespace(const std::string &text) {
  const char *space = " \t\n\r\f\v";
  size_t begin = text.find_first_not_of(space);
  if (begin == std::string::npos)
    return "";
  size_t end = text.find_last_not_of(space);
  return text.substr(begin, end - begin + 1);
}

ChatFormat::ChatFormat(std::string todayDate) : today(std::move(todayDate)) {}

std::string ChatFormat::render(const std::vector<ChatMessage> &messages,
                               bool primeAssistant) const {
  std::string systemMessage;
  size_t first = 0;
  if (!messages.empty() && messages.front().role == "system") {
    systemMessage = trimWhitespace(messages.front().content);
    first = 1;
  }
  std::string text = "<|begin_of_text|>" + header("system") +
                     "Cutting Knowledge Date: December 2023\n" +
                     "Today Date: " + today + "\n\n" + systemMessage +
                     "<|eot_id|>";
  for (size_t i = first; i < messages.size(); ++i)
    text += renderTurn(messages[i], /*primeAssistant=*/false);
  if (primeAssistant)
    text += header("assistant");
  return text;
}

std::string ChatFormat::renderTurn(const ChatMessage &message,
                                   bool primeAssistant) const {
  std::string text =
      header(message.role) + trimWhitespace(message.content) + "<|eot_id|>";
  if (primeAssistant)
    text += header("assistant");
  return text;
}

std::string ChatFormat::formatDate(std::time_t time) {
  std::tm parts{};
  localtime_r(&time, &parts);
  char buffer[32];
  std::snprintf(buffer, sizeof(buffer), "%02d %s %04d", parts.tm_mday,
                kMonths[parts.tm_mon], parts.tm_year + 1900);
  return buffer;
}

std::string ChatFormat::parseDate(const std::string &text) {
  int year, month, day;
  char extra;
  if (std::sscanf(text.c_str(), "%4d-%2d-%2d%c", &year, &month, &day,
                  &extra) == 3 &&
      month >= 1 && month <= 12 && day >= 1 && day <= 31) {
    char buffer[32];
    std::snprintf(buffer, sizeof(buffer), "%02d %s %04d", day,
                  kMonths[month - 1], year);
    return buffer;
  }
  char monthName[4];
  if (std::sscanf(text.c_str(), "%2d %3s %4d%c", &day, monthName, &year,
                  &extra) == 3)
    for (const char *name : kMonths)
      if (std::string(name) == monthName && day >= 1 && day <= 31)
        return text;
  throw Error("--date: '" + text +
              "' is not a date (use YYYY-MM-DD or e.g. '26 Jul 2024')");
}

} // namespace llamac::runtime
