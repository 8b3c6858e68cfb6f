// The resource entries of coapd's config: --resource and `resource = [...]`,
// file=PATH read, and every bad entry a one-line exit 2 naming the entry
// and the key.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "config/config.h"

namespace config {
namespace {

struct Parsed {
  ParseResult result;
  Config config;
};

Parsed run(const std::vector<std::string>& args) {
  std::vector<const char*> argv = {"coapd"};
  for (const auto& a : args) argv.push_back(a.c_str());
  Parsed p;
  p.result = parse(static_cast<int>(argv.size()), argv.data(), p.config);
  return p;
}

std::string temp_path(const std::string& name) {
  return testing::TempDir() + "coapd_resources_test_" + std::to_string(getpid()) + "_" + name;
}

Parsed run_file(const std::string& contents, std::vector<std::string> args = {}) {
  const std::string path = temp_path("conf");
  std::ofstream(path) << contents;
  args.insert(args.begin(), {"--config", path});
  Parsed p = run(args);
  std::filesystem::remove(path);
  return p;
}

void expect_error(const Parsed& p, std::vector<std::string> needles) {
  SCOPED_TRACE(p.result.output);
  EXPECT_FALSE(p.result.run);
  EXPECT_EQ(p.result.exit_code, 2);
  const std::string& out = p.result.output;
  EXPECT_EQ(std::count(out.begin(), out.end(), '\n'), 1);
  for (const auto& n : needles) EXPECT_NE(out.find(n), std::string::npos) << "missing " << n;
}

TEST(ResourceConfig, FileListAndFlags) {
  Parsed p = run_file(
      "resource = [\"/sensors/temp,ct=0,rt=temperature-c,if=core.s,obs,methods=get|put,"
      "value=21.5\", \"/j,ct=50,value={\\\"a\\\":1,\\\"b\\\":2}\"]\n");
  ASSERT_TRUE(p.result.run) << p.result.output;
  ASSERT_EQ(p.config.resources.size(), 2u);
  const coap::ResourceSpec& t = p.config.resources[0];
  EXPECT_EQ(t.path, "/sensors/temp");
  EXPECT_EQ(t.rt, "temperature-c");
  EXPECT_TRUE(t.observable);
  EXPECT_EQ(coap::methods_text(t.methods), "get|put");
  EXPECT_EQ(std::string(t.value.begin(), t.value.end()), "21.5");
  const coap::ResourceSpec& j = p.config.resources[1];
  EXPECT_EQ(std::string(j.value.begin(), j.value.end()), "{\"a\":1,\"b\":2}");

  // Flags replace the file's entries.
  Parsed f = run_file("resource = [\"/a\"]\n", {"--resource", "/b,value=1", "--resource", "/c"});
  ASSERT_TRUE(f.result.run) << f.result.output;
  ASSERT_EQ(f.config.resources.size(), 2u);
  EXPECT_EQ(f.config.resources[0].path, "/b");
  EXPECT_EQ(f.config.resources[1].path, "/c");
}

TEST(ResourceConfig, FileValueIsRead) {
  const std::string data = temp_path("value");
  std::ofstream(data, std::ios::binary) << "from,a\nfile";
  Parsed p = run({"--resource", "/f,ct=42,file=" + data});
  ASSERT_TRUE(p.result.run) << p.result.output;
  EXPECT_EQ(std::string(p.config.resources[0].value.begin(), p.config.resources[0].value.end()),
            "from,a\nfile");
  expect_error(run({"--max-resource-size", "4", "--resource", "/f,file=" + data}),
               {"resource '/f'", "key 'file'", "--max-resource-size"});
  std::filesystem::remove(data);
  expect_error(run({"--resource", "/f,file=" + data}), {"resource '/f'", "key 'file'", data});
}

TEST(ResourceConfig, BadEntriesNameTheEntryAndTheKey) {
  expect_error(run_file("resource = [\"/a,colour=red\"]\n"),
               {"config file", "resource", "'/a,colour=red'", "key 'colour'"});
  expect_error(run({"--resource", "/a,ct=x"}), {"--resource", "'/a,ct=x'", "key 'ct'"});
  expect_error(run({"--resource", "/a,methods=get|fly"}), {"key 'methods'", "fly"});
  expect_error(run({"--resource", "/a//b"}), {"'/a//b'", "empty segment"});
  expect_error(run({"--resource", "/" + std::string(300, 'x')}), {"longer than 255"});
  expect_error(run({"--resource", "/time"}), {"resource '/time'", "built-in"});
  expect_error(run({"--resource", "/a", "--resource", "/a,obs"}),
               {"resource '/a'", "more than once"});
  expect_error(run({"--max-resources", "1", "--resource", "/a", "--resource", "/b"}),
               {"--max-resources"});
  expect_error(run({"--max-resource-size", "2", "--resource", "/a,value=abc"}),
               {"resource '/a'", "key 'value'"});
  expect_error(run({"--max-resources", "0"}), {"--max-resources"});
}

}  // namespace
}  // namespace config
