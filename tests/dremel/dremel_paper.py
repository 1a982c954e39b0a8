"""The paper's running example (Fig. 2) shared by the tests."""

DOCUMENT = """
message Document {
  required int64 DocId;
  optional group Links {
    repeated int64 Backward;
    repeated int64 Forward; }
  repeated group Name {
    repeated group Language {
      required string Code;
      optional string Country; }
    optional string Url; }}
"""

R1 = {
    "DocId": 10,
    "Links": {"Forward": [20, 40, 60]},
    "Name": [
        {"Language": [{"Code": "en-us", "Country": "us"}, {"Code": "en"}], "Url": "http://A"},
        {"Url": "http://B"},
        {"Language": [{"Code": "en-gb", "Country": "gb"}]},
    ],
}
R2 = {"DocId": 20, "Links": {"Backward": [10, 30], "Forward": [80]}, "Name": [{"Url": "http://C"}]}
