import marshmallow as ma


class FailedJobSchema(ma.Schema):
    id = ma.fields.String()
    queue = ma.fields.String()
    func_name = ma.fields.String()
    args_repr = ma.fields.String()
    error = ma.fields.String(metadata={"description": "Last line of the exception"})
    trace = ma.fields.String()
    failed_at = ma.fields.AwareDateTime(allow_none=True)
    attempts_left = ma.fields.Integer()
