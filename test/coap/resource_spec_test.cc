// Parsing of user resource definitions: keys, values, paths, and errors that
// name the key.
#include "coap/resource_spec.h"

#include <gtest/gtest.h>

namespace coap {
namespace {

TEST(ResourceSpecTest, ParsesEveryKey) {
  auto s = parse_resource_entry(
      "/sensors/temp,ct=50,rt=temperature-c,if=core.s,title=Temp,sz=4,obs,methods=get|PUT|ipatch,"
      "max-age=30,delay=200,multicast,value=21.5");
  ASSERT_TRUE(s) << s.error();
  EXPECT_EQ(s->path, "/sensors/temp");
  EXPECT_EQ(s->ct, 50u);
  EXPECT_EQ(s->rt, "temperature-c");
  EXPECT_EQ(s->if_, "core.s");
  EXPECT_EQ(s->title, "Temp");
  EXPECT_EQ(s->sz, 4u);
  EXPECT_TRUE(s->observable);
  EXPECT_TRUE(s->multicast);
  EXPECT_EQ(methods_text(s->methods), "get|put|ipatch");
  EXPECT_EQ(s->max_age, 30u);
  EXPECT_EQ(s->delay_ms, 200u);
  EXPECT_EQ(std::string(s->value.begin(), s->value.end()), "21.5");
}

TEST(ResourceSpecTest, DefaultsAndValueKeepsCommas) {
  auto s = parse_resource_entry("/a,value={\"x\":1,\"y\":2}");
  ASSERT_TRUE(s) << s.error();
  EXPECT_EQ(s->ct, 0u);
  EXPECT_EQ(s->methods, kMethodGet);
  EXPECT_FALSE(s->observable);
  EXPECT_EQ(std::string(s->value.begin(), s->value.end()), "{\"x\":1,\"y\":2}");
  auto f = parse_resource_entry("/b, file = /tmp/x ");
  ASSERT_TRUE(f) << f.error();
  EXPECT_EQ(f->file, "/tmp/x");
}

TEST(ResourceSpecTest, ErrorsNameTheKey) {
  auto expect_error = [](std::string_view entry, std::string_view needle) {
    auto s = parse_resource_entry(entry);
    ASSERT_FALSE(s) << entry;
    EXPECT_NE(s.error().find(needle), std::string::npos) << entry << ": " << s.error();
  };
  expect_error("/a,colour=red", "key 'colour' is not known");
  expect_error("/a,c=1", "key 'c' is not known");
  expect_error("/a,ct=abc", "key 'ct'");
  expect_error("/a,ct=70000", "key 'ct'");
  expect_error("/a,methods=get|fly", "'fly' is not a method");
  expect_error("/a,obs=1", "key 'obs' takes no value");
  expect_error("/a,rt", "key 'rt' needs '=value'");
  expect_error("/a,rt=a\"b", "key 'rt'");
  expect_error("/a,ct=1,ct=2", "key 'ct' is given more than once");
  expect_error("/a,delay=600000", "key 'delay'");
  expect_error("/a,,obs", "empty item");
  expect_error("/a,file=/x,value=1", "both given");
}

TEST(ResourceSpecTest, PathsAreChecked) {
  EXPECT_TRUE(check_resource_path("/a/b/c"));
  EXPECT_FALSE(check_resource_path("a/b"));
  EXPECT_FALSE(check_resource_path("/"));
  EXPECT_FALSE(check_resource_path("/a//b"));
  EXPECT_FALSE(check_resource_path("/a/"));
  EXPECT_FALSE(check_resource_path("/a/../b"));
  EXPECT_FALSE(check_resource_path("/.well-known/x"));
  EXPECT_FALSE(check_resource_path("/" + std::string(256, 'x')));
  EXPECT_TRUE(check_resource_path("/" + std::string(255, 'x')));
  std::string deep;
  for (int i = 0; i < 17; ++i) deep += "/s";
  EXPECT_FALSE(check_resource_path(deep));
  auto s = parse_resource_entry("/a//b,obs");
  ASSERT_FALSE(s);
  EXPECT_NE(s.error().find("path '/a//b'"), std::string::npos) << s.error();
}

TEST(ResourceSpecTest, MethodBits) {
  EXPECT_EQ(method_bit(codes::kGet), kMethodGet);
  EXPECT_EQ(method_bit(codes::kContent), 0);
  auto m = parse_methods("get|put|post|delete|fetch|patch|ipatch");
  ASSERT_TRUE(m);
  EXPECT_EQ(*m, 0x7f);
  EXPECT_EQ(methods_text(*m), "get|post|put|delete|fetch|patch|ipatch");
}

}  // namespace
}  // namespace coap
