-- Argo CD health of a TranscriptionJob (whisperprod.io/v1alpha1).
local hs = {status = "Progressing", message = "waiting for the operator"}
if obj.status == nil or obj.status.phase == nil then
  return hs
end
local generation = obj.metadata.generation
if generation ~= nil and obj.status.observedGeneration ~= nil and obj.status.observedGeneration < generation then
  hs.message = "the operator has not seen the latest spec yet"
  return hs
end
local function condition_message(kind)
  if obj.status.conditions ~= nil then
    for _, condition in ipairs(obj.status.conditions) do
      if condition.type == kind and condition.status == "True" then
        return condition.message
      end
    end
  end
  return nil
end
local counts = string.format("%d of %d inputs succeeded, %d failed",
  obj.status.succeeded or 0, obj.status.total or 0, obj.status.failed or 0)
local phase = obj.status.phase
if phase == "Succeeded" then
  hs.status = "Healthy"
  hs.message = counts
elseif phase == "Failed" then
  hs.status = "Degraded"
  hs.message = condition_message("Failed") or counts
elseif phase == "Suspended" then
  hs.status = "Suspended"
  hs.message = "spec.suspend is true"
else
  hs.status = "Progressing"
  hs.message = phase .. ": " .. counts
end
return hs
